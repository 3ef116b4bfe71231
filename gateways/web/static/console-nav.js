// Shows the Console link to administrators on pages that do not know who is one.
"use strict";
(function () {
  const link = document.getElementById("console-link");
  if (!link || !link.hidden) {
    return;
  }
  fetch("/console/nav", {credentials: "same-origin", redirect: "manual"}).then(function (answer) {
    if (answer.status === 204) {
      link.hidden = false;
    }
  }, function () {});
})();
