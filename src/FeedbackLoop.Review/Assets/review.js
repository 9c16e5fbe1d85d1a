// Keyboard shortcuts for the review app: every action on a page is an element with data-key; pressing that key clicks
// it (a button or a link) or focuses it (a text field). Keys are ignored while typing in a field, where Escape leaves
// the field and Ctrl+Enter submits its form. No other script runs on these pages.
"use strict";
document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
    if (typing) {
        if (event.key === "Escape") target.blur();
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.form) {
            event.preventDefault();
            var submit = target.form.querySelector("button[type=submit][name=decision]") || target.form.querySelector("button[type=submit]");
            if (submit) submit.click(); else target.form.requestSubmit();
        }
        return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var element = document.querySelector('[data-key="' + (event.key === "ArrowRight" ? "j" : event.key === "ArrowLeft" ? "k" : event.key) + '"]');
    if (!element) return;
    event.preventDefault();
    if (element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement) element.focus();
    else element.click();
});
