namespace FeedbackLoop.Datasets;

/// <summary>
/// A dataset path that would leave <c>&lt;data&gt;/datasets/&lt;app_id&gt;/</c>; see <see cref="DatasetPaths.Folder"/>. The
/// message says which rule was broken and never quotes the app id (it comes from senders).
/// </summary>
public sealed class DatasetPathException(string reason) : ArgumentException("Refused dataset path: " + reason + ".");
