import { z } from 'zod';
import { connectionVarsSchema, edgeVarsSchema } from './src/inventory/vars.ts';
const hostVarsSchema = z.looseObject({ ...connectionVarsSchema.shape, ...edgeVarsSchema.shape });
try { const r2 = edgeVarsSchema.safeParse({ edge_wan1_targets: null }, { reportInput: true }); console.log('r2', JSON.stringify(r2.error?.issues)); } catch (e) { console.log('r2 threw', e); }
const r3 = edgeVarsSchema.safeParse({ edge_wan1_targets: ['1.1.1.1', '8.8.8'], edge_health_success_threshold: 5 }, { reportInput: true });
console.log('r3', JSON.stringify(r3.error?.issues));
const r4 = edgeVarsSchema.safeParse({ edge_ssh_port: 'abc', edge_wan1_mark: 'zz', edge_sysctl: {'A B': 1}, edge_mgmt_subnets: [], edge_health_fall: 0 }, { reportInput: true, error: (iss) => { console.log('map', iss.code, iss.message, iss.input); return undefined; } });
console.log('r4', JSON.stringify(r4.error?.issues, null, 1));
console.log(JSON.stringify(z.toJSONSchema(hostVarsSchema, { io: 'input' })).slice(0, 1500));
