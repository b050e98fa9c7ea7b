// The part of markdown-it (pinned in package.json) the panel uses; the package ships no types.
declare module 'markdown-it' {
  interface Options {
    html?: boolean;
    linkify?: boolean;
    breaks?: boolean;
  }
  class MarkdownIt {
    constructor(options?: Options);
    render(source: string): string;
  }
  export default MarkdownIt;
}
