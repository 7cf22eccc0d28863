// Behaviour that the pages need, kept out of the HTML so a strict content
// security policy can forbid inline scripts.
(function () {
  "use strict";
  // The VAS: clicking the line places the mark and fills the number box; the
  // number box (the keyboard path) moves the mark. No mark until someone acts.
  document.querySelectorAll("[data-vas]").forEach(function (vas) {
    var line = vas.querySelector("[data-vas-line]");
    var mark = vas.querySelector("[data-vas-mark]");
    var input = vas.querySelector("input");
    function show(value) {
      var mm = parseInt(value, 10);
      if (isNaN(mm) || mm < 0 || mm > 100) { mark.hidden = true; return; }
      mark.hidden = false;
      mark.style.left = mm + "%";
    }
    line.addEventListener("click", function (event) {
      var box = line.getBoundingClientRect();
      var mm = Math.round(((event.clientX - box.left) / box.width) * 100);
      mm = Math.max(0, Math.min(100, mm));
      input.value = mm;
      show(mm);
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    input.addEventListener("input", function () { show(input.value); });
    show(input.value);
  });
  // Show the co-morbidity list only when co-morbidity is yes.
  document.querySelectorAll("[data-toggle-when]").forEach(function (target) {
    var name = target.getAttribute("data-toggle-when");
    var radios = document.querySelectorAll('input[name="' + name + '"]');
    function update() {
      var checked = document.querySelector('input[name="' + name + '"]:checked');
      target.hidden = !(checked && checked.value === "yes");
    }
    radios.forEach(function (radio) { radio.addEventListener("change", update); });
    update();
  });
})();
// Progress of background computations: poll the status URL, reload when done.
(function () {
  "use strict";
  document.querySelectorAll("[data-progress-url]").forEach(function (element) {
    var url = element.getAttribute("data-progress-url");
    function poll() {
      fetch(url, { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          var bar = element.querySelector(".progress-bar");
          if (bar) { bar.style.width = data.progress + "%"; bar.textContent = data.progress + "%"; }
          if (data.status === "done" || data.status === "failed") { window.location.reload(); }
          else { window.setTimeout(poll, 1000); }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 1000);
  });
})();
