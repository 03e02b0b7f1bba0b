/**
 * The nftables sink: values written into the ruleset edge renders. nft has no escape inside a
 * string literal, so whatever a literal cannot hold is refused rather than rewritten.
 */
import { parsePrefix } from '../ipv4.js';
import { termLine } from './terminal.js';

// Interface names and other identifiers: what `ifname` allows (IFNAMSIZ 16 with its NUL), no quote.
const NFT_WORD = /^[A-Za-z0-9_.:@-]{1,15}$/;
// A comment string: printable ASCII without the quote that would end it (nft strings have no escape).
const NFT_COMMENT = /^[\x20\x21\x23-\x7e]{0,128}$/;

/** An nft string literal for an interface name: `"eth0"`. Anything that could escape it is refused. */
export function nftString(s: string): string {
  if (!NFT_WORD.test(s)) throw new Error(`refusing to render ${JSON.stringify(s)} into nftables as an interface name`);
  return `"${s}"`;
}

/** An IPv4 prefix as nft reads it (`10.1.0.0/24`); anything else is refused. */
export function nftPrefix(p: string): string {
  if (!p.includes('/') || !parsePrefix(p)) throw new Error(`refusing to render ${JSON.stringify(p)} into nftables as a prefix`);
  return p;
}

/** A `comment "…"` value: printable ASCII, no double quote, at most 128 characters (nft's limit). */
export function nftComment(text: string): string {
  if (!NFT_COMMENT.test(text)) throw new Error(`refusing to render ${JSON.stringify(text)} into nftables as a comment`);
  return `"${text}"`;
}

/** Text for a `#` line of the ruleset: nothing in it can end the comment or hide. */
export function nftHashComment(text: string): string {
  return termLine(text);
}
