using System.Text.RegularExpressions;
using Veritee.TestSupport;

namespace Veritee.Packaging.Tests;

/// <summary>
/// Code cites the repository's own documents only: every Markdown file a source, test or script names exists in the
/// repository (docs/ first), so whoever maintains it next can read the contract the code implements.
/// </summary>
public sealed partial class DocumentCitationTests
{
    private static readonly string[] CodeFolders = ["src", "tests", "tools", "samples", "fuzz"];
    private static readonly string[] CodeExtensions = [".cs", ".sh", ".mjs", ".js", ".csproj", ".props"];

    [Fact]
    public void Every_markdown_file_the_code_cites_is_in_the_repository()
    {
        var root = Vectors.RepositoryRoot;
        var files = RepositoryFiles(root).ToList();
        var markdown = files.Where(f => f.EndsWith(".md", StringComparison.Ordinal)).Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var file in files.Where(f => CodeExtensions.Contains(Path.GetExtension(f)) && CodeFolders.Any(d => f.StartsWith(Path.Combine(root, d) + Path.DirectorySeparatorChar, StringComparison.Ordinal))))
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                foreach (Match cited in CitedMarkdown().Matches(lines[i]))
                {
                    var path = cited.Value;
                    var exists = path.Contains('/', StringComparison.Ordinal)
                        ? File.Exists(Path.Combine(root, path))
                        : markdown.Contains(path);
                    if (!exists)
                    {
                        missing.Add($"{Path.GetRelativePath(root, file)}:{i + 1}: {path}");
                    }
                }
            }
        }

        Assert.True(missing.Count == 0, "cited documents that are not in the repository:\n" + string.Join("\n", missing));
    }

    [Fact]
    public void The_checker_sees_a_citation_of_a_document_outside_the_repository()
    {
        // Built from parts, so this file does not cite a document itself.
        var outside = "dcap" + ".md";
        var matches = CitedMarkdown().Matches($"// see {outside} §4 and docs/verification{".md"} §5").Select(m => m.Value).ToList();
        Assert.Equal([outside, "docs/verification.md"], matches);
    }

    private static IEnumerable<string> RepositoryFiles(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj" or "node_modules" or ".git" or "artifacts"));

    [GeneratedRegex(@"(?<![\w./-])(?:[\w-]+/)*[\w-]+\.md\b")]
    private static partial Regex CitedMarkdown();
}
