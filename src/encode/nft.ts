/**
 * The nftables sink: values written into the ruleset edge renders. nft has no escape inside a
 * string literal, so whatever a literal cannot hold is refused rather than rewritten.
 */
import { parsePrefix } from '../ipv4.js';
import { parsePrefix6 } from '../ipv6.js';
import { termLine } from './terminal.js';

// Interface names and other identifiers: what `ifname` allows (IFNAMSIZ 16 with its NUL), no quote.
const NFT_WORD = /^[A-Za-z0-9_.:@-]{1,15}$/;
// A comment string: printable ASCII without the quote that would end it (nft strings have no escape).
const NFT_COMMENT = /^[\x20\x21\x23-\x7e]{0,128}$/;
// nft reads a number with a leading zero as octal: to it 010.0.0.0/8 is 8.0.0.0/8 and fd00::/064 is
// fd00::/52. Decimal fields are written without one. Upper-case hex is the same address to nft.
const DECIMAL = '(?:0|[1-9][0-9]{0,2})';
const NFT_PREFIX4 = new RegExp(`^${DECIMAL}(?:\\.${DECIMAL}){3}/${DECIMAL}$`);
const NFT_PREFIX6 = new RegExp(`^[0-9A-Fa-f:.]+/${DECIMAL}$`);

/** An nft string literal for an interface name: `"eth0"`. Anything that could escape it is refused. */
export function nftString(s: string): string {
  if (!NFT_WORD.test(s)) throw new Error(`refusing to render ${JSON.stringify(s)} into nftables as an interface name`);
  return `"${s}"`;
}

/** An IPv4 prefix as nft reads it (`10.1.0.0/24`); anything else is refused. */
export function nftPrefix(p: string): string {
  if (!NFT_PREFIX4.test(p) || !parsePrefix(p)) throw new Error(`refusing to render ${JSON.stringify(p)} into nftables as a prefix`);
  return p;
}

/** An IPv6 prefix as nft reads it (`fd00:1::/64`); anything else is refused. */
export function nftPrefix6(p: string): string {
  if (!NFT_PREFIX6.test(p) || !parsePrefix6(p)) throw new Error(`refusing to render ${JSON.stringify(p)} into nftables as an IPv6 prefix`);
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
