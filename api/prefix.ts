/** Every API route lives under this prefix (its own module: app.ts and the plugins both need it). */
export const API_PREFIX = '/api/v1'
