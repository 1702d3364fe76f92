// The bar for image folders: the embedded MNIST test set written as PNGs in class folders 0…9 loads, through the
// default preprocessing of a [1, 1, 28, 28] model, to exactly the IDX loader's features and labels, and a LeNet-5
// scores exactly the same accuracy on both.
using Condense.Data;
using Condense.Data.Images;
using Condense.Nn;
using Condense.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Condense.Tests.Data.Images;

public class ImageFolderMnistTests
{
    [Fact]
    public void MnistPngsLoadToTheIdxValuesAndScoreTheSame()
    {
        var (train, test) = Mnist.LoadEmbedded();
        using var tmp = new TempDir();
        WritePngs(test, tmp.Path);

        var data = ImageFolder.Load(tmp.Path, ImagePreprocessing.ForModel([1, 1, 28, 28]));
        var images = data.Dataset;
        Assert.Equal(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], data.ClassNames);
        Assert.Equal(test.Count, images.Count);
        Assert.Equal(test.SampleShape, images.SampleShape);
        // Files are grouped by class; each is named after its index in the IDX file.
        for (int k = 0; k < images.Count; k++)
        {
            int index = int.Parse(Path.GetFileNameWithoutExtension(data.Files[k]));
            Assert.Equal(test.Labels![index], images.Labels![k]);
            var expected = test.Features.AsSpan(index * test.FeatureSize, test.FeatureSize);
            var actual = images.Features.AsSpan(k * images.FeatureSize, images.FeatureSize);
            Assert.True(expected.SequenceEqual(actual), $"image {index} differs from the IDX loader's");
        }

        var spec = ModelSpec.Parse("lenet5");
        var model = spec.Build(seed: 3);
        // One epoch without shifts (about 2 s; about 89 % accuracy): a real classifier, far from chance, in a fast test.
        Trainer.Fit(model, train, null, TrainOptions.For(spec) with { Epochs = 1, Seed = 3, AugmentShift = 0 });
        var fromIdx = Evaluator.Evaluate(model, test);
        var fromPngs = Evaluator.Evaluate(model, images);
        Assert.InRange(fromIdx.Accuracy, 0.8f, 1f);
        Assert.Equal(fromIdx.Correct, fromPngs.Correct);
        Assert.Equal(fromIdx.Accuracy, fromPngs.Accuracy);
    }

    // Each 28 × 28 image as an 8-bit gray PNG, in the folder of its label; the bytes are round(255 · v), exact since the
    // IDX loader's values are byte / 255f.
    private static void WritePngs(Dataset test, string folder)
    {
        var encoder = new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 };
        for (int label = 0; label < 10; label++)
            Directory.CreateDirectory(Path.Combine(folder, label.ToString()));
        Parallel.For(0, test.Count, i =>
        {
            var pixels = new byte[test.FeatureSize];
            for (int p = 0; p < pixels.Length; p++)
                pixels[p] = (byte)Math.Round(test.Features[i * test.FeatureSize + p] * 255f);
            using var image = Image.LoadPixelData<L8>(pixels, 28, 28);
            image.Save(Path.Combine(folder, test.Labels![i].ToString(), $"{i:D5}.png"), encoder);
        });
    }
}
