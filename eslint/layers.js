// A local ESLint rule that keeps the layers of src/ apart: every relative import is resolved to
// the file it names, and checked against what the importing file's layer may reach (an allow
// list) or must never reach (a deny list). Resolving the path, rather than matching the import
// text, is what makes it exact for nested folders (src/engine/rules/pod-security/...).
import path from 'node:path';

/** @param {string} file @param {string} dir */
const inside = (file, dir) => file === dir || file.startsWith(`${dir}/`);

/** @type {import('eslint').Rule.RuleModule} */
const boundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'imports across layers of src/ follow the layering' },
    schema: [
      {
        type: 'object',
        properties: {
          layers: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                from: { type: 'string' },
                allow: { type: 'array', items: { type: 'string' } },
                deny: { type: 'array', items: { type: 'string' } },
                message: { type: 'string' },
              },
              required: ['from', 'message'],
              additionalProperties: false,
            },
          },
        },
        additionalProperties: false,
      },
    ],
  },
  create(context) {
    const layers = context.options[0]?.layers ?? [];
    const root = context.cwd;
    const me = path.relative(root, context.filename).split(path.sep).join('/');
    // The most specific layer the file is in.
    const layer = layers
      .filter((l) => inside(me, l.from))
      .sort((a, b) => b.from.length - a.from.length)[0];
    if (!layer) return {};
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = path
        .relative(root, path.resolve(path.dirname(context.filename), source))
        .split(path.sep)
        .join('/');
      if (inside(target, layer.from)) return;
      const bad = layer.allow
        ? !layer.allow.some((d) => inside(target, d))
        : (layer.deny ?? []).some((d) => inside(target, d));
      if (bad) context.report({ node, message: `${layer.message} (imports ${target})` });
    };
    return {
      ImportDeclaration: (n) => check(n.source, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n.source, n.source.value),
      ExportAllDeclaration: (n) => check(n.source, n.source.value),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n.source, n.source.value),
    };
  },
};

export default { rules: { boundaries } };
