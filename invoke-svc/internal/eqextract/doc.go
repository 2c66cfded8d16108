// Package eqextract finds the display equations of a paper, from its LaTeX source or from
// its PDF, for the equation_extraction workflow.
//
// # API
//
//   - FromLaTeX(src) parses one .tex file. \input and \include are not followed.
//   - FromArchive(r, size, name) reads a .tar.gz, .tgz, .tar, .zip or gzip-compressed
//     single-file source, picks the main file (\documentclass and \begin{document}) and
//     inlines \input, \include and \subfile from the archive.
//   - FromPDF(r, size, pages) and FromPDFContext(ctx, ...) find the displays of a PDF.
//   - FromLaTeXContext and FromArchiveContext are the LaTeX paths bounded by a context.
//
// Each returns a Result: the equations in document order, the pages whose text could not be
// trusted (UncertainPages), the page count (PDF), and warnings. Errors wrap ErrTooLarge,
// ErrTooComplex, ErrNotPDF or ErrBadArchive and say what was wrong. Nothing panics on hostile
// input: panics inside the PDF reader are recovered and returned as errors, and every
// limit (the Max* variables, DefaultPDFTimeout) is checked before the work it bounds.
//
// # LaTeX path
//
// The source is lexed as TeX would read it for this purpose: comments (an unescaped %, to
// the end of the line and the next line's leading blanks) are dropped; verbatim, Verbatim,
// lstlisting, minted, comment and filecontents environments and \verb are skipped. Only
// the document body is searched (the whole text when there is no \begin{document}).
// Display math is equation, align, gather, multline, eqnarray, flalign, alignat, xalignat,
// xxalignat, displaymath and their starred forms, \[...\] and $$...$$. Multi-line
// environments are split at the \\ that are outside braces and nested environments (so
// cases, matrices, split and aligned stay whole); each numbered line becomes one
// Equation, and unnumbered lines join the next numbered line (or the last one when they
// come after it); an environment without numbered lines is one Equation. \label, \tag,
// \tag*, \nonumber and \notag are taken out of the body, which is whitespace-normalised.
//
// Numbers are what LaTeX prints: the equation counter counts numbered lines in order;
// \tag{X} prints X and does not step it; \numberwithin / \counterwithin{equation}{section}
// (also chapter, subsection) give "2.1" with resets at each unstarred sectioning command;
// \appendix switches the section (report/book: chapter) number to letters ("A.1");
// subequations give "2a", "2b" (with the parent number, "2.2a"); \setcounter and
// \addtocounter of equation and the sectioning counters are followed; report and book
// number equations within chapters. The corpus build checks these rules against the
// numbers TeX itself printed.
//
// Not handled on the LaTeX path: displays hidden behind macros (\newcommand{\be}{\begin
// {equation}}) or new environments; a redefined \theequation or other number formats;
// counters shared with the equation counter (\newtheorem{thm}[equation]); \includeonly;
// packages with their own display environments (breqn, IEEEeqnarray, empheq); the page of
// an equation (Page is 0).
//
// # PDF path
//
// Pages are read with github.com/ledongthuc/pdf (its parser, fonts and encodings) and a
// text interpreter of this package that gives every glyph its position, advance width,
// size and font. A page's glyphs are split into columns (an empty vertical strip near the
// middle means two columns; when a title and abstract across both columns hide it, it is
// looked for among the other rows), then into baseline rows, and rows into bands: rows whose
// vertical extents and x ranges overlap, i.e. a text line with its scripts or a display row
// with its fractions, limits and big operators. The text edges and paragraph indentation
// of each column come from its prose lines. An equation number is a token in parentheses
// (or brackets) such as (3), (2.1), (2.2a), (A.1), (*), (2'), at the column's right edge
// (left edge for leqno and amsart), separated from the formula by a gap that is wide
// compared with the band's word spacing; a parenthesised token at the end of a prose line
// (one that starts at the left edge or at the paragraph indent) needs a much wider gap and
// a mathematical body, so references like "see (3)" are not numbers; an over-wide row
// that runs under its number at the right text edge has the number read from the glyphs
// of the closing bracket's font alone. A band with several
// numbers is split between them. Unnumbered bands are displays when they are mostly math
// (math fonts such as CMMI, CMSY, CMEX, MSBM, LMMath*, symbol and Greek glyphs, half
// weight for italic text fonts) and do not fill the line like prose. Consecutive display
// bands form one display; each number owns the rows nearest to it, so a multi-line align or
// a matrix gives one Equation per number, and a number that dropped below a wide formula
// joins it. Equations report the page, number, bounding box (PDF points, origin bottom
// left), text (rows top to bottom; fractions and scripts are flattened) and LaTeX.
//
// The LaTeX of a display is reconstructed from its glyphs (mathrec.go, mathfonts.go): the
// font of each glyph gives its role (math italic, symbols with calligraphic capitals,
// blackboard bold, Fraktur, bold, upright text), its text the command (Greek letters,
// relations, arrows, operators), and for the extension fonts of TeX (cmex and its Times,
// Palatino and Latin Modern equivalents), which carry no Unicode mapping, the character
// code gives the big operator, delimiter (with its size) or radical. The content stream's
// thin rules (filled rectangles, stroked horizontal lines) are the fraction bars and
// radical overlines. Structures are read from the outside in: radicals with their index,
// fractions (widest bar first), matrices and cases (tall delimiters around rows; columns at
// wide gaps), accents, operator names (\lim, \sin) and \text, big operators with limits
// above and below; then the main baseline is read left to right and everything off it
// becomes sub- and superscripts of the node before, read recursively; big delimiters that
// pair become \left ... \right. The rows of one display are joined with \\, and rows that
// share a relation at one x (an align) get an & before it. Each equation carries a
// Confidence (lowered for every glyph without a mapping and every construct that was not
// understood) and Notes naming them. Not reconstructed: \overbrace and \underbrace, arrays
// with rules, stacked limits (\substack), the exact spacing (\, and friends come back as
// gaps: \quad and \qquad only), and the size of a \big delimiter that does not pair;
// \mathrm and \text cannot be told apart (upright letters become an operator name, a
// single upright letter \mathrm, and longer runs \text).
//
// Pages with no text, or where most glyphs have no Unicode mapping (bitmap Type 3 fonts,
// fonts without ToUnicode), or whose content fails to parse or exceeds a limit, go into
// UncertainPages and yield nothing.
//
// Not handled on the PDF path: numbers without brackets (\tag*{T}); more than two columns;
// rotated pages or text; text inside form XObjects (included figures); scanned pages
// (reported uncertain, no OCR). Unnumbered displays are found by layout alone: rows with
// three or more words of a text font (affiliations, captions), numbered algorithm lines
// ("3: ..."), table rows between rules and lines flush with the text edge are not
// displays, but a centred table row full of math without rules can still be counted, and a
// display of plain words can be missed. The PDF reader itself has loops without limits; they are bounded here by a byte
// budget and the deadline that every read of the input checks, by a scan of the
// cross-reference data before parsing, and by caps on page content and glyph counts. Work
// inside the reader that does not read the input is not interrupted by the deadline.
// ToUnicode CMaps are read by this package's own parser (cmap.go), never by the reader's,
// which trusts announced entry counts and decodes without limit: it reads at most
// MaxCMapBytes decoded bytes, MaxCMapEntries entries and a bounded operand stack. Layout
// takes on at most MaxLayoutRows baselines a page, and a result holds at most MaxEquations
// equations on every path. A font or page over a budget makes its page uncertain, with a
// warning naming the budget; the equation budget fails the call with ErrTooLarge.
//
// # Quality
//
// testdata/corpus holds LaTeX papers compiled to PDF with their ground truth;
// TestCorpus checks the targets and cmd/bench-extract reports the numbers. The
// reconstructed LaTeX is scored by corpus.Similarity (normalised token edit distance; the
// normalisation is documented there) and parsed with KaTeX (shared/katex, the KaTeX the web pages serve).
package eqextract
