// modelgate dashboard: progressive enhancement only; every page works without it.
// On the check page, show the profile or the use-context fields, whichever is chosen.
document.addEventListener("DOMContentLoaded", () => {
  const profile = document.getElementById("basis-profile");
  const context = document.getElementById("basis-context");
  if (!profile || !context) return;
  const show = () => {
    for (const el of document.querySelectorAll(".when-profile")) el.hidden = !profile.checked;
    for (const el of document.querySelectorAll(".when-context")) el.hidden = !context.checked;
  };
  profile.addEventListener("change", show);
  context.addEventListener("change", show);
  show();
});
