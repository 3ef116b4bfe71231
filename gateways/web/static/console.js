// The console's latest events, kept current: each event the log gets arrives over /console/events.
"use strict";
(function () {
  const table = document.getElementById("events");
  if (!table || !window.EventSource) {
    return;
  }
  const body = table.tBodies[0];
  // How many rows stay: the page opens with the latest fifty.
  const KEEP = 200;
  const source = new EventSource("/console/events?after=" + encodeURIComponent(table.dataset.after));
  source.addEventListener("logged", function (message) {
    const event = JSON.parse(message.data);
    const row = document.createElement("tr");
    row.className = "event fresh";
    for (const value of [event.seq, event.at, event.type, event.subject]) {
      const cell = document.createElement("td");
      // Text, never markup: a subject carries ids users chose.
      cell.textContent = String(value);
      row.appendChild(cell);
    }
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > KEEP) {
      body.deleteRow(body.rows.length - 1);
    }
  });
})();
