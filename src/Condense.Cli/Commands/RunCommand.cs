// `condense run MODEL --input NAME=FILE.npy … [-o DIR] [--json]`: runs a model on .npy inputs of any NumPy type and
// writes each output as DIR/<output name>.npy in its own type.
using System.ComponentModel;
using Condense.Data;
using Condense.Formats;
using Condense.Inference;
using Condense.Tensors;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class RunCommand : Command<RunCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("A saved model (.safetensors or .onnx).")]
        public string Model { get; init; } = "";

        [CommandOption("--input <NAME=FILE>")]
        [Description("An input as NAME=FILE.npy (repeat for each input); a single-input model may take FILE.npy alone.")]
        public string[] Inputs { get; init; } = [];

        [CommandOption("-o|--out <DIR>")] [Description("Folder for the outputs, one OUTPUT_NAME.npy each. Default: outputs")]
        public string Out { get; init; } = "outputs";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json);
        if (settings.Inputs.Length == 0) throw new CondenseException("no input given: use --input NAME=FILE.npy (or --input FILE.npy)");
        var files = settings.Inputs.Select(Parse).ToList();
        var roles = files.Select(f => new RunInput("input", f.Path)).Prepend(new RunInput("model", settings.Model)).ToArray();
        OutputPaths.CheckFolder(settings.Out, roles);
        var model = ModelFile.Load(settings.Model);
        var inputs = ModelRunner.Bind(model, files.Select(f => (f.Name, Npy.Read(f.Path).ToTensor())).ToList());
        var run = ModelRunner.Run(model, inputs);

        var paths = run.Outputs.Select(o => Path.Combine(settings.Out, ModelRunner.FileName(o.Key) + ".npy")).ToList();
        if (paths.Distinct(StringComparer.Ordinal).Count() != paths.Count)
            throw new CondenseException($"two outputs would share a file name in {settings.Out}: {string.Join(", ", run.Outputs.Select(o => o.Key))}");
        Directory.CreateDirectory(settings.Out);
        foreach (var path in paths) OutputPaths.CheckFile(path, roles);
        for (int i = 0; i < paths.Count; i++) Npy.Write(paths[i], NpyArray.FromTensor(run.Outputs[i].Value));

        var table = new Table().AddColumns("output", "type", "shape", "file");
        for (int i = 0; i < paths.Count; i++)
        {
            var (name, value) = (run.Outputs[i].Key, run.Outputs[i].Value);
            table.AddRow(Markup.Escape(name), value.DataType.OnnxName(), Markup.Escape(Shape.Format(value.Shape)), Markup.Escape(paths[i]));
        }
        output.Console.Write(table);
        output.Console.MarkupLine($"ran in {run.Elapsed.TotalMilliseconds:F1} ms");
        output.Result(new
        {
            model = settings.Model,
            outputs = run.Outputs.Select((o, i) => new { name = o.Key, type = o.Value.DataType.OnnxName(), shape = o.Value.Shape, file = paths[i] }),
            milliseconds = run.Elapsed.TotalMilliseconds,
        });
        return 0;
    }

    // NAME=FILE, or FILE alone; a path holding '=' is read as a file when it exists.
    private static (string? Name, string Path) Parse(string value)
    {
        int eq = value.IndexOf('=');
        if (eq <= 0 || File.Exists(value)) return (null, value);
        return (value[..eq], value[(eq + 1)..]);
    }
}
