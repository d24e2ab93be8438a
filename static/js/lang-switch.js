// Switch the interface language as soon as one is chosen; without JavaScript the
// form's own button (in <noscript>) does it.
const select = document.getElementById("lang-select");
if (select) select.addEventListener("change", () => select.form.submit());
