import { nameSchema } from '../config/text.js';

/**
 * Names in an inventory, by Ansible's rules (a host name has no whitespace or control characters;
 * edge also refuses invisible ones and a leading "-"). A host name is written into comments and
 * messages on the router and used as the SSH address when ansible_host is not set, so it is
 * checked here, when the file is read, once.
 */
export const hostNameSchema = nameSchema('host name');
export const groupNameSchema = nameSchema('group name');
export const varNameSchema = nameSchema('variable name');
