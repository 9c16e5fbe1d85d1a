using Microsoft.ML.Data;

namespace FeedbackLoop.Training.Rewards;

/// <summary>An immutable sparse vector: strictly increasing indices with their non-zero values.</summary>
internal sealed class SparseVector(int length, int[] indices, float[] values)
{
    public int Length { get; } = length;
    public int[] Indices { get; } = indices;
    public float[] Values { get; } = values;

    /// <summary>Copies an ML.NET vector (dense or sparse), keeping its non-zero entries.</summary>
    public static SparseVector From(in VBuffer<float> buffer)
    {
        var indices = new List<int>();
        var values = new List<float>();
        foreach (var (index, value) in buffer.Items())
        {
            if (value != 0)
            {
                indices.Add(index);
                values.Add(value);
            }
        }
        return new SparseVector(buffer.Length, [.. indices], [.. values]);
    }

    /// <summary><paramref name="left"/> − <paramref name="right"/>, merged over the two index lists.</summary>
    public static SparseVector Subtract(SparseVector left, SparseVector right)
    {
        var indices = new List<int>(left.Indices.Length + right.Indices.Length);
        var values = new List<float>(left.Indices.Length + right.Indices.Length);
        int i = 0, j = 0;
        while (i < left.Indices.Length || j < right.Indices.Length)
        {
            int index;
            float value;
            if (j == right.Indices.Length || (i < left.Indices.Length && left.Indices[i] < right.Indices[j]))
            {
                (index, value) = (left.Indices[i], left.Values[i++]);
            }
            else if (i == left.Indices.Length || right.Indices[j] < left.Indices[i])
            {
                (index, value) = (right.Indices[j], -right.Values[j++]);
            }
            else
            {
                (index, value) = (left.Indices[i], left.Values[i++] - right.Values[j++]);
            }
            if (value != 0)
            {
                indices.Add(index);
                values.Add(value);
            }
        }
        return new SparseVector(left.Length, [.. indices], [.. values]);
    }

    /// <summary>The vector with every value negated.</summary>
    public SparseVector Negate() => new(Length, Indices, [.. Values.Select(v => -v)]);

    /// <summary>As an ML.NET vector (sharing the arrays, which nobody mutates).</summary>
    public VBuffer<float> ToVBuffer() => new(Length, Values.Length, Values, Indices);

    /// <summary>weights·x in double precision, over the stored entries only.</summary>
    public static double Dot(in VBuffer<float> x, float[] weights)
    {
        var values = x.GetValues();
        var sum = 0.0;
        if (x.IsDense)
        {
            for (var i = 0; i < values.Length; i++)
            {
                sum += (double)values[i] * weights[i];
            }
        }
        else
        {
            var indices = x.GetIndices();
            for (var i = 0; i < values.Length; i++)
            {
                sum += (double)values[i] * weights[indices[i]];
            }
        }
        return sum;
    }
}
