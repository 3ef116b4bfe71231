// The upload page: each chosen file is granted an upload URL (POST /media), sent straight to it with a progress
// bar, and followed until it is processed. The login cookie only counts with the CSRF token in a header, which
// a page of another site cannot send, so every call here carries it.
"use strict";
(function () {
  const form = document.getElementById("upload-form");
  if (!form) {
    return;
  }
  const input = document.getElementById("upload-files");
  const description = document.getElementById("upload-description");
  const publicly = document.getElementById("upload-public");
  const list = document.getElementById("upload-list");
  const notice = document.getElementById("upload-notice");
  const csrf = form.dataset.csrf;
  const owner = form.dataset.owner;
  const maxBytes = Number(form.dataset.maxBytes);
  // Files in flight at once: more would share the same uplink without finishing sooner.
  const CONCURRENT = 2;
  const POLL_MS = 1000;
  // Long videos take a while; after this the row says to look at the media page later.
  const POLL_FOR_MS = 15 * 60 * 1000;
  const NETWORK = "The connection failed: check the network and try again";
  // Names browsers give some types, and the one the server grants for each.
  const ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/x-flac": "audio/flac",
    "audio/mp3": "audio/mpeg",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "video/x-m4v": "video/mp4",
  };
  const queue = [];
  let running = 0;

  class Refused extends Error {}

  // The readable text of a refusal: the JSON error's words, never the JSON itself.
  function refusal(status, text) {
    let said = "";
    try {
      const body = JSON.parse(text);
      if (body && typeof body.error === "string") {
        said = body.error;
      }
    } catch (ignored) {
      // Not JSON (a proxy's page, say): the status alone is told.
    }
    if (!said) {
      said = "The server refused this (HTTP " + status + ")";
    }
    if (status === 401) {
      said += ": sign in again, then retry";
    }
    return new Refused(said);
  }

  async function call(method, path, body) {
    const headers = { "X-CSRF-Token": csrf, Accept: "application/json" };
    const options = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let answer;
    try {
      answer = await fetch(path, options);
    } catch (failed) {
      throw new Refused(NETWORK);
    }
    const text = await answer.text();
    if (!answer.ok) {
      throw refusal(answer.status, text);
    }
    return JSON.parse(text);
  }

  function put(url, file, contentType, disposition, row) {
    return new Promise(function (resolve, reject) {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.setRequestHeader("Content-Type", contentType);
      xhr.setRequestHeader("Content-Disposition", disposition);
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable) {
          row.progress.max = event.total;
          row.progress.value = event.loaded;
          row.say("Uploading " + Math.floor((100 * event.loaded) / event.total) + "%");
        }
      };
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve(JSON.parse(xhr.responseText));
        } else {
          reject(refusal(xhr.status, xhr.responseText));
        }
      };
      xhr.onerror = function () {
        reject(new Refused(NETWORK));
      };
      xhr.send(file);
    });
  }

  function sleep(ms) {
    return new Promise(function (resolve) {
      setTimeout(resolve, ms);
    });
  }

  async function settled(media, row) {
    const until = Date.now() + POLL_FOR_MS;
    while (media.status !== "ready" && media.status !== "failed") {
      if (Date.now() > until) {
        return media;
      }
      row.say(media.status === "pending" ? "Waiting for the upload" : "Processing");
      await sleep(POLL_MS);
      media = await call("GET", "/media/" + encodeURIComponent(media.id));
    }
    return media;
  }

  function makeRow(file) {
    const item = document.createElement("li");
    item.className = "upload-item";
    item.dataset.state = "queued";
    const name = document.createElement("span");
    name.className = "upload-name";
    // Text, never markup: the name is the user's.
    name.textContent = file.name;
    const progress = document.createElement("progress");
    progress.className = "upload-progress";
    progress.max = 1;
    progress.value = 0;
    const status = document.createElement("span");
    status.className = "upload-status";
    status.setAttribute("role", "status");
    status.textContent = "Waiting";
    item.append(name, progress, status);
    list.appendChild(item);
    return {
      item: item,
      progress: progress,
      say: function (text, state) {
        status.textContent = text;
        if (state) {
          item.dataset.state = state;
        }
      },
      link: function (mediaId) {
        const link = document.createElement("a");
        link.className = "upload-link";
        link.href = "/u/" + encodeURIComponent(owner) + "/m/" + encodeURIComponent(mediaId);
        link.textContent = "View";
        item.appendChild(link);
      },
    };
  }

  async function upload(job) {
    const file = job.file;
    const row = job.row;
    if (file.size > maxBytes) {
      throw new Refused("The upload must be at most " + maxBytes + " bytes");
    }
    const type = ALIASES[file.type] || file.type || "application/octet-stream";
    row.say("Asking for an upload URL", "granting");
    const grant = await call("POST", "/media", { filename: file.name, contentType: type });
    const mediaId = grant.media.id;
    row.item.dataset.media = mediaId;
    row.say("Uploading 0%", "uploading");
    let media = await put(grant.uploadUrl, file, grant.media.contentType, grant.contentDispositionHeader, row);
    row.progress.value = row.progress.max;
    row.say("Processing", "processing");
    media = await settled(media, row);
    row.link(mediaId);
    if (media.status === "failed") {
      row.say("Processing failed: " + (media.failure || "the file could not be processed"), "failed");
      return;
    }
    if (media.status !== "ready") {
      row.say("Still processing: the media page shows it once it is done", "processing");
      return;
    }
    const text = job.description;
    if (text) {
      row.say("Saving the description");
      await call("PUT", "/api/v1/media/" + encodeURIComponent(mediaId), { description: text });
    }
    if (job.publicly) {
      row.say("Posting");
      await call("POST", "/api/v1/statuses", { status: text, media_ids: [mediaId], visibility: "public" });
      row.say("Ready and posted publicly", "ready");
      return;
    }
    row.say("Ready", "ready");
  }

  async function work(job) {
    try {
      await upload(job);
    } catch (failed) {
      const text = failed instanceof Refused ? failed.message : "Something went wrong: " + String(failed);
      job.row.say(text, "refused");
    }
  }

  function next() {
    while (running < CONCURRENT && queue.length) {
      const job = queue.shift();
      running += 1;
      work(job).finally(function () {
        running -= 1;
        next();
      });
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const files = Array.from(input.files || []);
    if (!files.length) {
      notice.textContent = "Choose one or more files first";
      notice.hidden = false;
      return;
    }
    notice.hidden = true;
    const options = { description: description.value.trim(), publicly: publicly.checked };
    for (const file of files) {
      queue.push({ file: file, row: makeRow(file), description: options.description, publicly: options.publicly });
    }
    // The same files can be chosen again: the picker would not fire for an unchanged choice.
    input.value = "";
    next();
  });
})();
