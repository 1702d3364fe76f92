// Options every command shares.
using System.ComponentModel;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal class CommonSettings : CommandSettings
{
    [CommandOption("--json")]
    [Description("Print the result as one JSON object on stdout (progress and tables go to stderr).")]
    public bool Json { get; init; }
}

internal class DataSettings : CommonSettings
{
    [CommandOption("--data <DIR>")]
    [Description("Folder with MNIST-format IDX files (train-images-idx3-ubyte[[.gz]], …). Default: the embedded MNIST subset. "
        + "eval, quantize and prune also take an array file: a .npy of the model's inputs (first dimension = samples; labels with "
        + "--labels, else fidelity to the original) or a CSV file, one sample per line, label first.")]
    public string? Data { get; init; }
}
