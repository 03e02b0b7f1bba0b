import { createHash } from 'node:crypto';

/**
 * The hash the probe reports for a file (sha256sum of its bytes), computed here for content edge
 * renders: equal hashes mean the file on the host holds exactly that content.
 */
export function contentHash(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}
