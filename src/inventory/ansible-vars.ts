/**
 * Ansible's own variable names that an inventory may set (connection, privilege escalation,
 * interpreters, behaviour), from Ansible's "behavioral inventory parameters" and its connection
 * and become plugins. An `ansible_*` name that is neither here nor under a plugin's prefix is
 * most likely a typo (`ansible_hots`), which Ansible and edge would both silently ignore.
 */
export const ANSIBLE_VARS: readonly string[] = [
  'ansible_connection', 'ansible_host', 'ansible_port', 'ansible_user', 'ansible_password',
  'ansible_ssh_host', 'ansible_ssh_port', 'ansible_ssh_user', 'ansible_ssh_pass',
  'ansible_ssh_private_key_file', 'ansible_private_key_file', 'ansible_ssh_common_args',
  'ansible_sftp_extra_args', 'ansible_scp_extra_args', 'ansible_ssh_extra_args', 'ansible_ssh_args',
  'ansible_ssh_pipelining', 'ansible_pipelining', 'ansible_ssh_executable', 'ansible_ssh_timeout',
  'ansible_timeout', 'ansible_ssh_retries', 'ansible_ssh_host_key_checking', 'ansible_host_key_checking',
  'ansible_ssh_transfer_method', 'ansible_scp_if_ssh', 'ansible_sftp_batch_mode', 'ansible_ssh_use_tty',
  'ansible_ssh_control_path', 'ansible_control_path', 'ansible_control_path_dir',
  'ansible_private_key_passphrase', 'ansible_ssh_password_mechanism', 'ansible_ssh_known_hosts_file',
  'ansible_become', 'ansible_become_method', 'ansible_become_user', 'ansible_become_password',
  'ansible_become_pass', 'ansible_become_exe', 'ansible_become_flags',
  'ansible_sudo', 'ansible_sudo_pass', 'ansible_sudo_user', 'ansible_sudo_exe', 'ansible_sudo_flags',
  'ansible_su', 'ansible_su_pass', 'ansible_su_user', 'ansible_su_exe', 'ansible_su_flags',
  'ansible_shell_type', 'ansible_shell_executable', 'ansible_remote_tmp', 'ansible_async_dir',
  'ansible_module_compression', 'ansible_network_os', 'ansible_group_priority', 'ansible_facts',
  'ansible_python', 'ansible_become_timeout', 'ansible_command_timeout', 'ansible_connect_timeout',
  'ansible_persistent_command_timeout', 'ansible_persistent_connect_timeout', 'ansible_persistent_log_messages',
  'ansible_network_cli_ssh_type', 'ansible_terminal_initial_prompt', 'ansible_terminal_initial_answer',
];

/** Plugins' own families: ansible_winrm_transport, ansible_httpapi_port, ansible_python_interpreter, ... */
const PLUGIN_PREFIXES = ['ansible_winrm_', 'ansible_psrp_', 'ansible_httpapi_', 'ansible_netconf_', 'ansible_paramiko_', 'ansible_libssh_', 'ansible_docker_', 'ansible_kubectl_', 'ansible_aws_ssm_', 'ansible_podman_', 'ansible_buildah_', 'ansible_local_', 'ansible_network_'];

export function isKnownAnsibleVar(name: string): boolean {
  return ANSIBLE_VARS.includes(name) || PLUGIN_PREFIXES.some((p) => name.startsWith(p)) || /^ansible_[a-z0-9]+_interpreter$/.test(name);
}
