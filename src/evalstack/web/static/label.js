// Keyboard shortcuts for the labelling pages. Loaded from the viewer itself (the page's
// Content-Security-Policy allows no inline script); it reads and writes only form fields.
(function () {
  "use strict";
  var form = document.getElementById("label-form");
  var vote = document.getElementById("vote-form");
  var next = 0;
  function typing(target) {
    return target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" &&
      target.type === "text");
  }
  function check(name, value) {
    var input = form.querySelector('input[name="' + name + '"][value="' + value + '"]');
    if (input) { input.checked = true; }
  }
  function submitVote(choice) {
    var button = vote.querySelector('button[value="' + choice + '"]');
    if (button) { button.click(); }
  }
  document.addEventListener("keydown", function (event) {
    if (form) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault(); form.requestSubmit(); return;
      }
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) { return; }
      var criteria = form.querySelectorAll("fieldset.criterion");
      if (event.key === "u") { check("thumbs", "up"); }
      else if (event.key === "d") { check("thumbs", "down"); }
      else if (event.key >= "1" && event.key <= "5" && criteria.length) {
        check("rating_" + criteria[next % criteria.length].dataset.criterion, event.key);
        next += 1;
      }
      else if (event.key === "c") { event.preventDefault(); form.querySelector("textarea").focus(); }
      else if (event.key === "s") { form.querySelector('button[name="skip"]').click(); }
    } else if (vote) {
      if (event.ctrlKey || event.metaKey || event.altKey) { return; }
      if (event.key === "1") { submitVote("left"); }
      else if (event.key === "2") { submitVote("right"); }
      else if (event.key === "t") { submitVote("tie"); }
      else if (event.key === "b") { submitVote("bad"); }
    }
  });
}());
