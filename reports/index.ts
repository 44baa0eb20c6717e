/** Reports: what the API answers, computed by analytics/ from what the store holds. */
export * from './errors.ts'
export * from './scope.ts'
export * from './energy.ts'
