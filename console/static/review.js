// Review page: mark entity spans by selecting text. Offsets count UTF-16 code units of the text as
// the DOM holds it (the redacted message, CRLF read as LF): JavaScript's own string unit. The list
// is posted as JSON [{start, end, entity}] with the label; the server converts these offsets to
// code points (tuning/review.py, save_label) and hands saved spans back in this unit.
(function () {
  "use strict";
  const textBox = document.getElementById("review-text");
  const field = document.getElementById("entities-field");
  const list = document.getElementById("entity-list");
  const picker = document.getElementById("entity-name");
  const text = textBox.textContent;
  let spans = [];
  try { spans = JSON.parse(field.value) || []; } catch (e) { spans = []; }

  function offsetOf(container, offset) {
    const before = document.createRange();
    before.selectNodeContents(textBox);
    before.setEnd(container, offset);
    return before.toString().length;
  }

  function render() {
    spans.sort((a, b) => a.start - b.start);
    field.value = JSON.stringify(spans);
    list.replaceChildren();
    spans.forEach((span, index) => {
      const item = document.createElement("li");
      item.className = "entity-span";
      item.textContent = span.entity + ": \u201c" + text.slice(span.start, span.end) + "\u201d (" + span.start + "\u2013" + span.end + ") ";
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.textContent = "remove";
      remove.addEventListener("click", () => { spans.splice(index, 1); render(); });
      item.appendChild(remove);
      list.appendChild(item);
    });
  }

  document.getElementById("mark-entity").addEventListener("click", () => {
    const selection = window.getSelection();
    if (!selection || selection.rangeCount === 0) return;
    const range = selection.getRangeAt(0);
    if (!textBox.contains(range.startContainer) || !textBox.contains(range.endContainer)) return;
    let start = offsetOf(range.startContainer, range.startOffset);
    let end = offsetOf(range.endContainer, range.endOffset);
    while (start < end && /\s/.test(text[start])) start += 1;
    while (end > start && /\s/.test(text[end - 1])) end -= 1;
    if (start >= end) return;
    spans = spans.filter((s) => s.end <= start || s.start >= end);
    spans.push({ start: start, end: end, entity: picker.value });
    selection.removeAllRanges();
    render();
  });

  render();
})();
