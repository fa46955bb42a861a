// The builder loads an .svg imported from TypeScript as its source text (for LabIcon).
declare module '*.svg' {
  const svg: string;
  export default svg;
}
