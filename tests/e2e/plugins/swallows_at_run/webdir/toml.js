export const fromToml = 1;
