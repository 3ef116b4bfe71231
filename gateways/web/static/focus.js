// Clicking on the media page's image sets the media's focus point: the click's place in the image, as
// Mastodon's coordinates (x -1 at the left edge to 1 at the right, y 1 at the top to -1 at the bottom).
"use strict";
(function () {
  const image = document.getElementById("media-image");
  const form = document.getElementById("focus-form");
  if (!image || !form) {
    return;
  }
  const shown = document.getElementById("focus-value");

  // Two decimals, as Mastodon's own clients send; never "-0.00".
  function coordinate(fraction) {
    const value = Math.min(1, Math.max(-1, fraction * 2 - 1));
    const rounded = Math.round(value * 100) / 100;
    return (rounded === 0 ? 0 : rounded).toFixed(2);
  }

  // The picture itself: the element's box without its border and padding.
  function pictureBox() {
    const box = image.getBoundingClientRect();
    const style = window.getComputedStyle(image);
    const px = function (name) { return parseFloat(style.getPropertyValue(name)) || 0; };
    const left = box.left + px("border-left-width") + px("padding-left");
    const top = box.top + px("border-top-width") + px("padding-top");
    const right = box.right - px("border-right-width") - px("padding-right");
    const bottom = box.bottom - px("border-bottom-width") - px("padding-bottom");
    return {left: left, top: top, width: right - left, height: bottom - top};
  }

  image.style.cursor = "crosshair";
  image.addEventListener("click", function (event) {
    const box = pictureBox();
    if (box.width <= 0 || box.height <= 0) {
      return;
    }
    event.preventDefault();
    const x = coordinate((event.clientX - box.left) / box.width);
    // Down the screen is down the image: y falls from 1 at the top to -1 at the bottom.
    const y = coordinate(1 - (event.clientY - box.top) / box.height);
    form.elements.namedItem("x").value = x;
    form.elements.namedItem("y").value = y;
    if (shown) {
      shown.textContent = "Focus: x " + x + ", y " + y + " (saving…)";
    }
    form.submit();
  });
})();
