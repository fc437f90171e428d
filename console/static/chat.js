// Test chat: sends each message to POST /api/chat and renders the replies with what the
// assistant understood. Text is always inserted with textContent, never as HTML; web addresses
// in a reply (the 3-D Secure link) become links only when they are http(s) URLs.
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

  const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"']+/g;

  function uuid4() {
    // crypto.randomUUID exists only in secure contexts (https, localhost): build one otherwise.
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function newSession() {
    session = uuid4();
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

  // A reply's text with its http(s) addresses as links (opened in a new tab); the rest as text.
  function linkified(node, text) {
    let last = 0;
    for (const match of text.matchAll(URL_IN_TEXT)) {
      const raw = match[0].replace(/[).,;:!?]+$/, "");
      let url = null;
      try { url = new URL(raw); } catch (e) { url = null; }
      if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) continue;
      node.append(text.slice(last, match.index));
      const a = el("a", "reply-link", raw);
      a.href = url.href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      node.append(a);
      last = match.index + raw.length;
    }
    node.append(text.slice(last));
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
      const msg = linkified(el("div", "msg bot"), reply.text || "");
      if (reply.buttons && reply.buttons.length) {
        const buttons = el("div", "buttons");
        if (reply.buttons.some((b) => b.payload.includes('"confirm_nonce"'))) {
          // A new payment summary: the older ones' buttons go (the server refuses them anyway).
          for (const old of log.querySelectorAll(".buttons.summary button")) old.disabled = true;
          buttons.classList.add("summary");
        }
        for (const b of reply.buttons) {
          const button = el("button", "quick", b.title);
          button.type = "button";
          button.dataset.payload = b.payload;
          // A tap hands back the reply it was under: a summary's Confirm confirms exactly that text.
          button.addEventListener("click", () => {
            button.classList.add("chosen");
            send(b.payload, b.title, reply.text || "");
          });
          buttons.append(button);
        }
        msg.append(buttons);
      }
      turn.append(msg);
    }
    // Issue 13: a message the user gets apart from the turn (a one-time code; on Telegram its own message).
    for (const separate of data.separate_messages || []) {
      const msg = el("div", "msg bot separate", separate);
      msg.title = "sent as a separate message";
      turn.append(msg);
    }
    turn.append(annotations(data));
    log.append(turn);
    transcriptLink.href = "/transcripts/" + data.conversation_id;
    transcriptLink.hidden = false;
  }

  // Sends so far: only the latest one's "not processed" answer gives back what it spent.
  let sends = 0;

  // `typed`: the text box's text this send cleared (given back if the message was not processed).
  async function send(text, shown, underText, typed) {
    const mine = ++sends;
    errorBox.hidden = true;
    // A button answers the turn it belongs to: once anything is sent, earlier buttons are spent.
    const spent = Array.from(log.querySelectorAll("button.quick")).filter((b) => !b.disabled);
    for (const used of spent) used.disabled = true;
    const bubble = el("div", "msg user", shown || text);
    log.append(bubble);
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
      if (response.headers.get("X-Not-Processed") === "1" && mine === sends) {
        // Not processed ("send it again"): the spent buttons and the typed text come back.
        for (const b of spent) { b.disabled = false; b.classList.remove("chosen"); }
        if (typed && !input.value) input.value = typed;
        bubble.classList.add("not-processed");
        bubble.title = "not processed";
      }
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
    send(text, null, "", text);
  });
  document.getElementById("new-conversation").addEventListener("click", newSession);
  userSelect.addEventListener("change", newSession);
  newSession();
})();
