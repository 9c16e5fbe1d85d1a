using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Transport;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 14, item 6: <c>extract</c> in distributed mode (<c>FEEDBACKLOOP_RABBITMQ</c> set) publishes DatasetCommitted on
/// RabbitMQ after each commit, so the orchestrator need not wait for its dataset poll. Real processes: the embedded
/// Kafka cluster (<c>broker</c>), <c>extract</c>, and a private RabbitMQ node with a subscriber in the test.
/// </summary>
[Collection(RabbitMqCollection.Name)]
public sealed class RabbitMqExtractCommitTests(RabbitMqBroker broker) : IDisposable
{
    private const int Sessions = 300;
    private readonly string _root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "feedbackloop-extractmq-" + Guid.NewGuid().ToString("N"))).FullName;

    [Fact]
    public async Task Extract_publishes_DatasetCommitted_on_rabbitmq_for_every_pair_it_commits()
    {
        var settings = await broker.NewVirtualHostAsync("extract-commits");
        var transport = LoopTransport.RabbitMq(settings);
        long announced = 0;
        await using var subscriber = new ServiceCollection().AddLogging()
            .AddMassTransit(bus => bus.UsingLoopTransport(transport, (_, cfg) =>
                cfg.ReceiveEndpoint("test-dataset-commits", e => e.Handler<DatasetCommitted>(context =>
                {
                    if (context.Message.AppId == "demo")
                    {
                        Interlocked.Add(ref announced, context.Message.PairsWritten);
                    }

                    return Task.CompletedTask;
                }))))
            .BuildServiceProvider(true);
        var bus = subscriber.GetRequiredService<IBusControl>();
        await bus.StartLoopBusAsync(transport);
        try
        {
            using var kafka = CliProcess.Start("broker", "--brokers", "1", "--partitions", "2");
            var bootstrap = (await kafka.FirstStdoutLineAsync(TimeSpan.FromSeconds(60)))[BrokerCommand.BootstrapLinePrefix.Length..];
            KnownSessions.ProduceSideBySide(bootstrap, Sessions);

            using var extract = CliProcess.Start(RabbitMqBroker.EnvironmentFor(settings),
                "extract", "--bootstrap", bootstrap, "--data", Path.Combine(_root, "data"), "--until-idle", "3");
            var exit = await extract.ExitAsync(TimeSpan.FromSeconds(120));

            Assert.True(exit == 0, $"exit {exit}:\n{extract.Output}");
            Assert.Contains("DatasetCommitted on RabbitMQ", extract.Output, StringComparison.Ordinal);
            Assert.Contains(" 0 not ", extract.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(settings.Password, extract.Output, StringComparison.Ordinal);
            Assert.True(await Eventually.TrueAsync(() => Interlocked.Read(ref announced) == Sessions, TimeSpan.FromSeconds(30)),
                $"announced {Interlocked.Read(ref announced)} of {Sessions} pairs:\n{extract.Output}");
            await kafka.TerminateAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
