// Resolve hook for an execution thread started from the TypeScript sources: workspace packages
// resolve to their sources (the `enigma-source` export condition), and a `.js` specifier that
// does not exist resolves to the `.ts` file beside it (the sources import with `.js`).
export async function resolve(specifier, context, next) {
  const conditions = [...(context.conditions ?? []), "enigma-source"];
  try {
    return await next(specifier, { ...context, conditions });
  } catch (e) {
    if (specifier.endsWith(".js") && (specifier.startsWith(".") || specifier.startsWith("file:"))) {
      return next(`${specifier.slice(0, -3)}.ts`, { ...context, conditions });
    }
    throw e;
  }
}
