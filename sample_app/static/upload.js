// Direct uploads: ask the app for an upload session, send the file straight to Cloud
// Storage (no 32 MiB request limit), then ask the app to check and record it.
(function () {
  "use strict";
  var form = document.getElementById("direct-upload");
  if (!form) return;
  var status = document.getElementById("direct-status");

  function errorText(response) {
    return response.json().then(
      function (body) {
        return (body && body.error && body.error.message) || "Error " + response.status + ".";
      },
      function () { return "Error " + response.status + "."; }
    );
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = document.getElementById("large-file").files[0];
    if (!file) { status.textContent = "Choose a file first."; return; }
    var headers = {
      "Content-Type": "application/json",
      "Accept": "application/json",
      "X-CSRF-Token": form.dataset.csrf
    };
    status.textContent = "Preparing the upload...";
    fetch(form.dataset.url, {
      method: "POST",
      headers: headers,
      credentials: "same-origin",
      body: JSON.stringify({
        filename: file.name,
        content_type: file.type || "application/octet-stream",
        size: file.size
      })
    }).then(function (response) {
      if (!response.ok) { return errorText(response).then(function (t) { throw new Error(t); }); }
      return response.json();
    }).then(function (upload) {
      status.textContent = "Uploading " + file.name + "...";
      return fetch(upload.url, { method: upload.method, headers: upload.headers, body: file })
        .then(function (put) {
          if (!put.ok) { throw new Error("The upload failed (" + put.status + ")."); }
          return fetch(upload.finalize, {
            method: "POST",
            headers: headers,
            credentials: "same-origin",
            body: JSON.stringify({ ticket: upload.ticket })
          });
        });
    }).then(function (response) {
      if (!response.ok) { return errorText(response).then(function (t) { throw new Error(t); }); }
      status.textContent = "Done.";
      window.location.reload();
    }).catch(function (error) {
      status.textContent = error.message;
    });
  });
})();
