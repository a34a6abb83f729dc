// Every htmx request carries the session's CSRF token (forms carry it as a field).
document.addEventListener("htmx:configRequest", function (event) {
  event.detail.headers["X-CSRF-Token"] = document.body.dataset.csrf;
});
