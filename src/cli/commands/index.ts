import type { Command } from '../command.ts';
import { apiCommands } from './api.ts';
import { auditCommands } from './audit.ts';
import { clientCommands } from './client.ts';
import { decideCommands } from './decide.ts';
import { gatewayCommands } from './gateway.ts';
import { keyCommands } from './keys.ts';
import { loginCommands } from './login.ts';
import { migrateCommands } from './migrate.ts';
import { policyCommands } from './policy.ts';
import { tokenCommands } from './token.ts';
import { userCommands } from './user.ts';

/** Every command, in the order `tollgate --help` lists them. */
export const COMMANDS: readonly Command[] = [
  ...migrateCommands,
  ...apiCommands,
  ...clientCommands,
  ...userCommands,
  ...keyCommands,
  ...policyCommands,
  ...decideCommands,
  ...gatewayCommands,
  ...auditCommands,
  ...loginCommands,
  ...tokenCommands,
];
