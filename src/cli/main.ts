// The `eventd` command line.
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { schemaCommand } from './schema.js';
import { serveCommand } from './serve.js';

export function buildProgram(): Command {
  return new Command('eventd')
    .description('A local event bus for container hosts: report events on one Unix socket, subscribe on another.')
    .version(packageVersion())
    .showHelpAfterError()
    .addCommand(serveCommand())
    .addCommand(schemaCommand());
}

export async function main(argv: string[] = process.argv): Promise<void> {
  await buildProgram().parseAsync(argv);
}

function packageVersion(): string {
  // Same relative path from src/cli/ and dist/cli/.
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}
