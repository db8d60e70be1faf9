using System.Globalization;
using System.Text;

namespace Veritee.Policy;

internal enum TokenKind
{
    EndOfInput,
    Identifier,
    String,
    Integer,
    Decimal,
    Equals,          // =
    EqualsEquals,    // ==
    NotEquals,       // !=
    Less,
    LessEquals,
    Greater,
    GreaterEquals,
    Bang,            // !
    AndAnd,          // &&
    Arrow,           // =>
    Semicolon,
    Comma,
    Colon,
    Dot,
    LeftBracket,
    RightBracket,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    Invalid,
}

/// <summary>A token. <see cref="Text"/> is the source text; <see cref="StringValue"/> the unescaped string literal.</summary>
internal readonly record struct Token(TokenKind Kind, string Text, SourceSpan Span, string? StringValue = null, long IntegerValue = 0);

/// <summary>
/// Splits policy text into tokens. Never throws: malformed input becomes <see cref="TokenKind.Invalid"/> tokens plus a
/// diagnostic. Comments are <c>// … end of line</c> in every version (the docs only show them in 1.2 samples).
/// </summary>
internal sealed class Lexer
{
    private readonly string _text;
    private readonly List<PolicyDiagnostic> _diagnostics;
    private int _pos;
    private int _line = 1;
    private int _lineStart;

    private Lexer(string text, List<PolicyDiagnostic> diagnostics)
    {
        _text = text;
        _diagnostics = diagnostics;
    }

    public static List<Token> Tokenize(string text, List<PolicyDiagnostic> diagnostics)
    {
        var lexer = new Lexer(text, diagnostics);
        var tokens = new List<Token>();
        while (true)
        {
            var token = lexer.Next();
            tokens.Add(token);
            if (token.Kind == TokenKind.EndOfInput)
            {
                return tokens;
            }
        }
    }

    private SourceSpan SpanFrom(int start, int line, int column) => new(start, _pos - start, line, column);

    private Token Next()
    {
        SkipTrivia();
        var start = _pos;
        var line = _line;
        var column = _pos - _lineStart + 1;
        if (_pos >= _text.Length)
        {
            return new Token(TokenKind.EndOfInput, "<EOF>", new SourceSpan(_pos, 0, line, column));
        }

        var c = _text[_pos];
        if (char.IsAsciiLetter(c) || c == '_')
        {
            while (_pos < _text.Length && (char.IsAsciiLetterOrDigit(_text[_pos]) || _text[_pos] == '_'))
            {
                _pos++;
            }

            return new Token(TokenKind.Identifier, _text[start.._pos], SpanFrom(start, line, column));
        }

        if (char.IsAsciiDigit(c) || (c == '-' && _pos + 1 < _text.Length && char.IsAsciiDigit(_text[_pos + 1])))
        {
            return LexNumber(start, line, column);
        }

        if (c == '"')
        {
            return LexString(start, line, column);
        }

        var kind = TokenKind.Invalid;
        var next = _pos + 1 < _text.Length ? _text[_pos + 1] : '\0';
        switch (c)
        {
            case '=' when next == '=': kind = TokenKind.EqualsEquals; _pos += 2; break;
            case '=' when next == '>': kind = TokenKind.Arrow; _pos += 2; break;
            case '=': kind = TokenKind.Equals; _pos++; break;
            case '!' when next == '=': kind = TokenKind.NotEquals; _pos += 2; break;
            case '!': kind = TokenKind.Bang; _pos++; break;
            case '<' when next == '=': kind = TokenKind.LessEquals; _pos += 2; break;
            case '<': kind = TokenKind.Less; _pos++; break;
            case '>' when next == '=': kind = TokenKind.GreaterEquals; _pos += 2; break;
            case '>': kind = TokenKind.Greater; _pos++; break;
            case '&' when next == '&': kind = TokenKind.AndAnd; _pos += 2; break;
            case ';': kind = TokenKind.Semicolon; _pos++; break;
            case ',': kind = TokenKind.Comma; _pos++; break;
            case ':': kind = TokenKind.Colon; _pos++; break;
            case '.': kind = TokenKind.Dot; _pos++; break;
            case '[': kind = TokenKind.LeftBracket; _pos++; break;
            case ']': kind = TokenKind.RightBracket; _pos++; break;
            case '(': kind = TokenKind.LeftParen; _pos++; break;
            case ')': kind = TokenKind.RightParen; _pos++; break;
            case '{': kind = TokenKind.LeftBrace; _pos++; break;
            case '}': kind = TokenKind.RightBrace; _pos++; break;
            default: break;
        }

        if (kind != TokenKind.Invalid)
        {
            return new Token(kind, _text[start.._pos], SpanFrom(start, line, column));
        }

        // One whole code point, so a bad surrogate pair is reported as one symbol.
        _pos += char.IsHighSurrogate(c) && char.IsLowSurrogate(next) ? 2 : 1;
        var symbol = _text[start.._pos];
        var span = SpanFrom(start, line, column);
        var hint = c is '\u201C' or '\u201D' or '\u201E' or '\u00AB' or '\u00BB'
            ? " (a typographic quote; string literals use the ASCII '\"')"
            : c is '\u2018' or '\u2019' ? " (a typographic quote; string literals use the ASCII '\"')" : string.Empty;
        Report(span, Printable(symbol), $"token recognition error at: '{Printable(symbol)}'{hint}", null);
        return new Token(TokenKind.Invalid, symbol, span);
    }

    private Token LexNumber(int start, int line, int column)
    {
        if (_text[_pos] == '-')
        {
            _pos++;
        }

        while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
        {
            _pos++;
        }

        var isDecimal = false;
        if (_pos + 1 < _text.Length && _text[_pos] == '.' && char.IsAsciiDigit(_text[_pos + 1]))
        {
            isDecimal = true;
            _pos++;
            while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
            {
                _pos++;
            }
        }

        // "0xFF", "12abc": one bad literal rather than a number followed by an identifier.
        var badTail = false;
        while (_pos < _text.Length && (char.IsAsciiLetterOrDigit(_text[_pos]) || _text[_pos] == '_'))
        {
            badTail = true;
            _pos++;
        }

        var text = _text[start.._pos];
        var span = SpanFrom(start, line, column);
        if (badTail)
        {
            Report(span, text, $"invalid number '{text}': integers are decimal digits only (no hexadecimal or suffixes)", "an integer");
            return new Token(TokenKind.Invalid, text, span);
        }

        if (isDecimal)
        {
            return new Token(TokenKind.Decimal, text, span);
        }

        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            Report(span, text, $"integer '{text}' is out of range (a 64-bit signed integer)", "an integer");
            return new Token(TokenKind.Invalid, text, span);
        }

        return new Token(TokenKind.Integer, text, span, IntegerValue: value);
    }

    private Token LexString(int start, int line, int column)
    {
        _pos++; // opening quote
        var builder = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length || _text[_pos] is '\n' or '\r')
            {
                var text = _text[start.._pos];
                var span = SpanFrom(start, line, column);
                var hint = text.Contains('\u201D', StringComparison.Ordinal) || text.Contains('\u201C', StringComparison.Ordinal)
                    ? " (it contains a typographic quote '\u201D'; close the string with the ASCII '\"')"
                    : string.Empty;
                Report(span, Printable(Truncate(text.TrimEnd())), $"unterminated string literal: no closing '\"' before the end of the line{hint}", "'\"'");
                return new Token(TokenKind.Invalid, text, span);
            }

            var c = _text[_pos];
            if (c == '"')
            {
                _pos++;
                return new Token(TokenKind.String, _text[start.._pos], SpanFrom(start, line, column), builder.ToString());
            }

            if (c != '\\')
            {
                builder.Append(c);
                _pos++;
                continue;
            }

            var escapeStart = _pos;
            var escapeColumn = _pos - _lineStart + 1;
            _pos++;
            var e = _pos < _text.Length ? _text[_pos] : '\0';
            _pos++;
            switch (e)
            {
                case '"': builder.Append('"'); break;
                case '\\': builder.Append('\\'); break;
                case '/': builder.Append('/'); break;
                case 'n': builder.Append('\n'); break;
                case 'r': builder.Append('\r'); break;
                case 't': builder.Append('\t'); break;
                case 'b': builder.Append('\b'); break;
                case 'f': builder.Append('\f'); break;
                case 'u' when _pos + 4 <= _text.Length
                              && ushort.TryParse(_text.AsSpan(_pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code):
                    builder.Append((char)code);
                    _pos += 4;
                    break;
                default:
                    _pos = Math.Min(_pos, _text.Length);
                    var escape = _text[escapeStart.._pos];
                    Report(
                        new SourceSpan(escapeStart, _pos - escapeStart, line, escapeColumn),
                        Printable(escape),
                        $"invalid escape sequence '{Printable(escape)}' in string literal",
                        "one of \\\" \\\\ \\/ \\n \\r \\t \\b \\f \\uXXXX");
                    builder.Append(escape);
                    break;
            }
        }
    }

    private void SkipTrivia()
    {
        while (_pos < _text.Length)
        {
            var c = _text[_pos];
            if (c == '\n')
            {
                _pos++;
                _line++;
                _lineStart = _pos;
            }
            else if (c is ' ' or '\t' or '\r' or '\f' or '\v' or '\u00A0' or '\uFEFF')
            {
                _pos++;
            }
            else if (c == '/' && _pos + 1 < _text.Length && _text[_pos + 1] == '/')
            {
                while (_pos < _text.Length && _text[_pos] != '\n')
                {
                    _pos++;
                }
            }
            else
            {
                return;
            }
        }
    }

    private void Report(SourceSpan span, string symbol, string message, string? expected) =>
        _diagnostics.Add(new PolicyDiagnostic(DiagnosticSeverity.Error, PolicyDiagnostic.ParsingError, message, span, symbol, expected, "policy > token"));

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..37] + "...";

    /// <summary>Shows control and invisible characters as escapes so a diagnostic is readable.</summary>
    internal static string Printable(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (char.IsControl(c) || char.IsSurrogate(c) || c is '\u00A0' or '\uFEFF')
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
