// The pages' one way to make an element: a tag, a class, and text as a text node (never
// innerHTML: names and messages may come from players).

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
