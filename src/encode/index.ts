/**
 * One encoder per sink, each refusing what it cannot represent. Every value that reaches a remote
 * shell, the nftables ruleset, sysctl, a systemd unit or the operator's terminal goes through one
 * of these. This module sits at the bottom layer: ssh, render, tasks and ui all import it.
 */
export { shComment, shJoin, shQuote, sshNameProblem } from './shell.js';
export { nftComment, nftHashComment, nftPrefix, nftPrefix6, nftString } from './nft.js';
export { SYSCTL_FAMILIES, SYSCTL_KEY_PATTERN, SYSCTL_KEY_RULE, SYSCTL_VALUE_PATTERN, SYSCTL_VALUE_RULE, sysctlKey, sysctlLine, sysctlValue } from './sysctl.js';
export { systemdExecPath, systemdValue } from './systemd.js';
export { termBytes, termJson, termJsonChunks, termLine, termText } from './terminal.js';
