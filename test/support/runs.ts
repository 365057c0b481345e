// How many cases a property runs. PROPERTY_SCALE shrinks every count in one place: `npm run mutate` runs the
// suite once per mutant and sets it to 0.1, trading depth for a run that ends in minutes, not hours.
const scale = Number(process.env.PROPERTY_SCALE ?? 1);

export function runs(count: number): number {
  return Math.max(100, Math.round(count * scale));
}
