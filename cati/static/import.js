// Sample import: suggests column names from the chosen file's header, then
// posts the form in the background and polls the import's progress.

const form = document.getElementById("sample");
if (form) {
  const file = form.querySelector("input[type=file]");
  const list = document.getElementById("columns");
  const box = document.getElementById("progress");
  const bar = box.querySelector("progress");
  const label = box.querySelector("span");
  const result = document.getElementById("import-result");

  file.addEventListener("change", async () => {
    const f = file.files[0];
    if (!f) { return; }
    const head = await f.slice(0, 64 * 1024).text();
    const first = head.replace(/^\uFEFF/, "").split(/\r?\n/)[0] || "";
    list.replaceChildren(...first.split(",").map((c) => {
      const o = document.createElement("option");
      o.value = c.replace(/^"|"$/g, "").trim();
      return o;
    }));
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = form.querySelector("input[name=token]").value;
    box.hidden = false;
    bar.value = 0;
    label.textContent = "uploading…";
    let done = false;
    box.dataset.state = "importing";
    box.dataset.polling = "1";
    const poll = async () => {
      while (!done) {
        await new Promise((r) => setTimeout(r, 300));
        try {
          const r = await fetch("/admin/imports/" + token + "/status", { headers: { Accept: "application/json" } });
          if (!r.ok) { continue; }
          const s = await r.json();
          if (done) { break; } // the import ended meanwhile: its result stands
          if (s.total > 0) { bar.value = Math.min(100, Math.round((100 * s.bytes) / s.total)); }
          label.textContent = s.state + " · " + s.rows + " rows read";
        } catch { /* keep polling */ }
      }
      box.dataset.polling = "0";
    };
    poll();
    try {
      const r = await fetch(form.action, { method: "POST", body: new FormData(form), headers: { Accept: "text/html" } });
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const part = doc.getElementById("result") || doc.getElementById("page-error");
      result.replaceChildren(part ? document.importNode(part, true) : document.createTextNode("The import failed (status " + r.status + ")."));
      done = true;
      bar.value = 100;
      label.textContent = r.ok ? "done" : "failed";
      box.dataset.state = r.ok ? "done" : "failed";
    } catch (e) {
      done = true;
      label.textContent = "failed: " + e;
      box.dataset.state = "failed";
    } finally {
      done = true;
      result.scrollIntoView({ block: "nearest" });
    }
  });
}
