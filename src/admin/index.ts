export { type ApiUseCases, type ApiView, apiUseCases, BUILTIN_API } from './apis.ts';
export { ADMIN_CREDENTIALS_FILE, type AdminCredentials, bootstrap } from './bootstrap.ts';
export { type ClientUseCases, type ClientView, clientUseCases, type GrantView } from './clients.ts';
export {
  type CreateApiInput,
  type CreateClientInput,
  type CreateUserInput,
  createApiInput,
  createClientInput,
  createUserInput,
  type GrantInput,
  grantInput,
  storedIdentifier,
} from './schemas.ts';
export { type UserUseCases, type UserView, userUseCases } from './users.ts';
