/**
 * What the user typed, quoted for an error message and cut to at most QUOTE_MAX_CHARS: a
 * 100,000-character argument must not come back whole on stderr (issue 15 item 5).
 */
export const QUOTE_MAX_CHARS = 200;

export function quoteArg(text: string): string {
  if (text.length <= QUOTE_MAX_CHARS) return `"${text}"`;
  const head = text.slice(0, QUOTE_MAX_CHARS - 40);
  const tail = text.slice(-20);
  return `"${head}...${tail}" (${text.length} characters)`;
}

/**
 * The same cut applied to a whole message as a last line of defence (commander's own messages
 * echo arguments too): every run of more than QUOTE_MAX_CHARS non-space characters is shortened,
 * and the message itself is kept to a few lines' worth.
 */
export function clipMessage(message: string): string {
  const clipped = message.replace(new RegExp(`\\S{${QUOTE_MAX_CHARS + 1},}`, 'g'), (run) => {
    return `${run.slice(0, QUOTE_MAX_CHARS - 40)}...${run.slice(-20)} (${run.length} characters)`;
  });
  const MAX_MESSAGE = 4 * QUOTE_MAX_CHARS;
  return clipped.length <= MAX_MESSAGE ? clipped : `${clipped.slice(0, MAX_MESSAGE)}... (message cut)`;
}
