// What may be printed: URLs without their credentials, and text without card numbers. Every
// log line, error message and CLI output that can carry a NATS URL or event data goes
// through these (issue 18: passwords and card numbers were printed in full).

// userinfo@ after "scheme://", or at the start of a word (host:port lists have no scheme).
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/|^|[\s,;"'(=])([^\s/@,;"'()]+)@/gi;

/**
 * `nats://user:secret@host:4222` → `nats://user:***@host:4222`; a lone token
 * (`nats://s3cr3t@host`) becomes `***`. Works on a single URL, a comma-separated list, or
 * any text that contains URLs (e.g. a client error message).
 */
export function redactUrls(text: string): string {
  return text.replace(URL_USERINFO, (_all, before: string, userinfo: string) => {
    const colon = userinfo.indexOf(":");
    return `${before}${colon < 0 ? "***" : `${userinfo.slice(0, colon)}:***`}@`;
  });
}

// 13 to 19 digits, single spaces or dashes allowed between them, not part of a longer number.
const CARD_LIKE = /(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])/g;

/**
 * Masks every card-like digit run (13–19 digits, spaces or dashes allowed between them)
 * except its last four digits: `4242 4242 4242 4242` → `**** **** **** 4242`. No Luhn check on
 * purpose: a mistyped card number is as sensitive as a valid one. Long numeric ids of that
 * length (e.g. epoch milliseconds) are masked too; `--show-sensitive` in the CLI shows them.
 */
export function maskCardNumbers(text: string): string {
  return text.replace(CARD_LIKE, (run) => {
    let digitsLeft = run.replace(/[^\d]/g, "").length;
    let out = "";
    for (const ch of run) {
      if (ch >= "0" && ch <= "9") {
        out += digitsLeft > 4 ? "*" : ch;
        digitsLeft--;
      } else out += ch;
    }
    return out;
  });
}

/** Both: for error texts that may quote a URL or a payload. */
export function redactText(text: string): string {
  return maskCardNumbers(redactUrls(text));
}
