// The ECR emulator as a stack component: node tests/stack/ecr/main.ts <config.json>
import { readFileSync } from 'node:fs';
import { type EmulatorConfig, startEmulator } from './emulator.ts';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: main.ts <config.json>\n');
  process.exit(2);
}
const config = JSON.parse(readFileSync(file, 'utf8')) as EmulatorConfig;
const emulator = await startEmulator(config);
const fronts = [...config.registries.map((r) => `${r.account}/${r.region}=127.0.0.1:${r.port}`), ...(config.publicRegistry ? [`public.ecr.aws=127.0.0.1:${config.publicRegistry.port}`] : [])];
process.stdout.write(`ecr emulator: AWS endpoint http://127.0.0.1:${config.port}, registries ${fronts.join(' ')}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void emulator.close().finally(() => process.exit(0));
  });
}
