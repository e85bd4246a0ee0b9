// Kept in step with package.json by test/unit/version.test.ts; a literal, so no file I/O at import.
export const VERSION_STRING = '0.1.0';
