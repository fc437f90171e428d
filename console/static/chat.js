// Test chat: sends each message to POST /api/chat and renders the replies with what the
// assistant understood. Text is always inserted with textContent, never as HTML.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const log = document.getElementById("chat-log");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-text");
  const sendButton = document.getElementById("chat-send");
  const userSelect = document.getElementById("test-user");
  const sessionLabel = document.getElementById("session-key");
  const transcriptLink = document.getElementById("transcript-link");
  const errorBox = document.getElementById("chat-error");
  const LOW_CONFIDENCE = 0.6;
  let session = "";

  function newSession() {
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    session = "s" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    sessionLabel.textContent = session;
    transcriptLink.hidden = true;
    log.replaceChildren();
    errorBox.hidden = true;
    input.focus();
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function annotations(data) {
    const box = el("div", "annotations");
    const row = el("div", "ann-row");
    const intent = data.parse.intent || {};
    const conf = typeof intent.confidence === "number" ? intent.confidence : null;
    const badge = el("span", "badge intent", (intent.name || "—") + (conf !== null ? " " + conf.toFixed(2) : ""));
    if (data.is_fallback) badge.classList.add("bad");
    else if (conf !== null && conf < LOW_CONFIDENCE) badge.classList.add("warn");
    row.append(badge);
    if (data.is_fallback) row.append(el("span", "badge bad", "fallback"));
    if (data.payment) {
      const p = data.payment;
      const change = p.previous_status && p.previous_status !== p.status ? p.previous_status + " → " : "";
      row.append(el("span", "badge pay status-" + p.status, "payment #" + p.payment_id + ": " + change + p.status));
    }
    box.append(row);

    const details = el("details");
    details.append(el("summary", null, "ranking, entities, slots, actions"));
    const table = el("table", "ranking");
    for (const r of (data.parse.ranking || []).slice(0, 5)) {
      const tr = el("tr");
      const bar = el("td", "bar");
      const fill = el("span");
      fill.style.width = ((r.confidence || 0) * 100).toFixed(1) + "%";
      bar.append(fill);
      tr.append(el("td", null, r.name), bar, el("td", null, (r.confidence || 0).toFixed(3)));
      table.append(tr);
    }
    details.append(table);
    const entities = el("p");
    entities.append(el("b", null, "Entities: "));
    const ents = data.parse.entities || [];
    if (!ents.length) entities.append("none");
    for (const e of ents) entities.append(el("code", null, e.entity + "=" + e.value), " ");
    const slots = el("p");
    slots.append(el("b", null, "Slots: "));
    const set = Object.entries(data.slots || {}).filter(([, v]) => v !== null);
    if (!set.length) slots.append("none set");
    for (const [k, v] of set) slots.append(el("code", null, k + "=" + JSON.stringify(v)), " ");
    const actions = el("p");
    actions.append(el("b", null, "Actions: "), (data.actions || []).join(", ") || "none");
    details.append(entities, slots, actions);
    box.append(details);
    return box;
  }

  function render(data) {
    const turn = el("div", "turn");
    for (const reply of data.replies) {
      const msg = el("div", "msg bot", reply.text || "");
      if (reply.buttons && reply.buttons.length) {
        const buttons = el("div", "buttons");
        for (const b of reply.buttons) {
          const button = el("button", "quick", b.title);
          button.type = "button";
          button.dataset.payload = b.payload;
          // A tap hands back the reply it was under: a summary's Confirm confirms exactly that text.
          button.addEventListener("click", () => send(b.payload, b.title, reply.text || ""));
          buttons.append(button);
        }
        msg.append(buttons);
      }
      turn.append(msg);
    }
    turn.append(annotations(data));
    log.append(turn);
    transcriptLink.href = "/transcripts/" + data.conversation_id;
    transcriptLink.hidden = false;
  }

  async function send(text, shown, underText) {
    errorBox.hidden = true;
    log.append(el("div", "msg user", shown || text));
    sendButton.disabled = true;
    try {
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        credentials: "same-origin",
        body: JSON.stringify({
          session: session,
          text: text,
          user_id: Number(userSelect.value),
          ...(underText ? { shown_text: underText } : {}),
        }),
      });
      const data = await response.json().catch(() => ({}));
      if (response.status === 401) { window.location = "/login?next=/chat"; return; }
      if (!response.ok) throw new Error(data.detail || "error " + response.status);
      render(data);
    } catch (err) {
      errorBox.textContent = err.message;
      errorBox.hidden = false;
    } finally {
      sendButton.disabled = false;
      log.scrollTop = log.scrollHeight;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
  document.getElementById("new-conversation").addEventListener("click", newSession);
  userSelect.addEventListener("change", newSession);
  newSession();
})();
