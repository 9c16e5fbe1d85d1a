using System.Text;
using FeedbackLoop.Contracts.Bus;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Orchestration.Transport;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// The closed loop over a real RabbitMQ node (private to the test run, see <see cref="RabbitMqBroker"/>), with the
/// real dataset store, SQLite registry and ML.NET trainer. Each test has its own virtual host.
/// </summary>
[Collection(RabbitMqCollection.Name)]
public sealed class RabbitMqTransportTests(RabbitMqBroker broker) : IDisposable
{
    private static readonly TimeSpan RunDeadline = TimeSpan.FromSeconds(90);
    private static readonly string[] LoopQueueNames = [LoopQueues.Triggers, LoopQueues.JobsOf(JobPools.Default), LoopQueues.JobReports];
    private readonly RabbitMqLoop _loop = new();

    public void Dispose() => _loop.Dispose();

    [Fact]
    public async Task The_loop_runs_end_to_end_over_rabbitmq_and_records_its_decision()
    {
        var transport = LoopTransport.RabbitMq(await broker.NewVirtualHostAsync("loop"));
        await _loop.CommitPairsAsync(120);
        await using var orchestrator = await _loop.StartOrchestratorAsync(transport);

        await orchestrator.Bus.Publish(new DatasetCommitted(RabbitMqLoop.AppId, 120));

        await _loop.RunsEndedAsync(1, RunDeadline);
        var run = Assert.Single(_loop.Registry.ListRuns(RabbitMqLoop.AppId));
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(120, run.Snapshot.TotalPairs);
        var model = Assert.Single(_loop.Registry.ListModels(RabbitMqLoop.AppId));
        Assert.NotNull(model.Decision);
        Assert.Equal(ModelStatus.Promoted, model.Model.Status);
        Assert.Equal(model.Model.Version, _loop.Registry.CurrentModel(RabbitMqLoop.AppId)?.Version);
    }

    [Fact]
    public async Task Loop_queues_are_durable_and_a_waiting_trigger_survives_a_broker_restart()
    {
        var settings = await broker.NewVirtualHostAsync("durable");
        var transport = LoopTransport.RabbitMq(settings);
        await _loop.CommitPairsAsync(120);
        // The orchestrator declares its queues and bindings, then goes away: nobody consumes the trigger.
        await (await _loop.StartOrchestratorAsync(transport)).DisposeAsync();
        await PublishWithoutConsumersAsync(transport, new DatasetCommitted(RabbitMqLoop.AppId, 120));
        Assert.True(await RabbitMqQueues.HoldsAsync(settings, LoopQueues.Triggers, 1, TimeSpan.FromSeconds(10)), "the trigger did not reach its queue");

        await broker.RestartAsync();

        var queues = await broker.ListQueuesAsync(settings.VirtualHost);
        Assert.All(LoopQueueNames, name =>
        {
            var queue = Assert.Single(queues, q => q.Name == name);
            Assert.True(queue.Durable, $"{name} is not durable");
            Assert.False(queue.AutoDelete, $"{name} is auto-delete");
        });
        Assert.Equal(1, queues.Single(q => q.Name == LoopQueues.Triggers).Messages);
        Assert.Empty(_loop.Registry.ListRuns(RabbitMqLoop.AppId));

        // A new orchestrator picks up the trigger that waited through the restart.
        await using var orchestrator = await _loop.StartOrchestratorAsync(transport);
        await _loop.RunsEndedAsync(1, RunDeadline);
        var run = Assert.Single(_loop.Registry.ListRuns(RabbitMqLoop.AppId));
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.NotNull(Assert.Single(_loop.Registry.ListModels(RabbitMqLoop.AppId)).Decision);
    }

    [Fact]
    public async Task A_run_whose_broker_restarts_while_it_trains_completes_once()
    {
        var transport = LoopTransport.RabbitMq(await broker.NewVirtualHostAsync("restart"));
        var trainer = new GatedTrainer();
        await _loop.CommitPairsAsync(120);
        await using var orchestrator = await _loop.StartOrchestratorAsync(transport, trainer);
        await orchestrator.Bus.Publish(new DatasetCommitted(RabbitMqLoop.AppId, 120));
        await trainer.Entered.WaitAsync(RunDeadline);

        // The tuning job holds no delivery while it trains (its offer was claimed and acknowledged at once), so the
        // restart redelivers nothing: training starts once, and its result, sent after the broker is back, ends the run.
        await broker.StopAsync();
        await broker.StartAsync();
        trainer.Open();

        await _loop.RunsEndedAsync(1, RunDeadline);
        Assert.Equal(1, trainer.Starts);
        var run = Assert.Single(_loop.Registry.ListRuns(RabbitMqLoop.AppId));
        Assert.Equal(RunStatus.Completed, run.Status);
        var model = Assert.Single(_loop.Registry.ListModels(RabbitMqLoop.AppId));
        Assert.NotNull(model.Decision);
        Assert.Equal(ModelStatus.Promoted, model.Model.Status);
    }

    [Fact]
    public async Task A_message_whose_consumer_keeps_failing_is_retried_briefly_then_moved_to_the_error_queue()
    {
        var settings = await broker.NewVirtualHostAsync("errors");
        var attempts = new AttemptCounter();
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton(attempts)
            .AddMassTransit(bus =>
            {
                bus.AddConsumer<RejectingConsumer>();
                bus.UsingLoopTransport(LoopTransport.RabbitMq(settings),
                    (context, cfg) => cfg.ReceiveEndpoint(RejectingConsumer.Queue, e => e.ConfigureConsumer<RejectingConsumer>(context)));
            });
        await using var consumer = await RunningBus.StartAsync(services, LoopTransport.RabbitMq(settings));

        await consumer.Bus.Publish(new UnreadableCommand("cmd-1"));

        var errorQueue = RejectingConsumer.Queue + "_error";
        Assert.True(await RabbitMqQueues.HoldsAsync(settings, errorQueue, 1, TimeSpan.FromSeconds(60)), "nothing reached the error queue");
        Assert.Equal(1 + LoopTransport.RetryIntervals.Count, attempts.Count);
        var failed = await RabbitMqQueues.TakeAsync(settings, errorQueue);
        Assert.NotNull(failed);
        Assert.Contains("cmd-1", Encoding.UTF8.GetString(failed.Body.Span), StringComparison.Ordinal);
        Assert.Equal(typeof(InvalidDataException).FullName, RabbitMqQueues.Header(failed, "MT-Fault-ExceptionType"));
        Assert.Equal(RejectingConsumer.Reason, RabbitMqQueues.Header(failed, "MT-Fault-Message"));
        Assert.Equal(LoopTransport.RetryIntervals.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), RabbitMqQueues.Header(failed, "MT-Fault-RetryCount"));
        Assert.True(failed.BasicProperties.Persistent, "the error queue's copy is not persistent");
        Assert.Null(await RabbitMqQueues.TakeAsync(settings, errorQueue));
    }

    private static async Task PublishWithoutConsumersAsync<T>(LoopTransport transport, T message) where T : class
    {
        var services = new ServiceCollection().AddLogging().AddMassTransit(bus => bus.UsingLoopTransport(transport, (_, _) => { }));
        await using var publisher = await RunningBus.StartAsync(services, transport);
        // Publisher confirms: this returns once the broker has the message.
        await publisher.Bus.Publish(message);
    }
}
/// <summary>A command no consumer can process.</summary>
public sealed record UnreadableCommand(string CommandId);

/// <summary>How many times the rejecting consumer was called.</summary>
internal sealed class AttemptCounter
{
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public void Add() => Interlocked.Increment(ref _count);
}

/// <summary>Fails every message, as a consumer given data it cannot read would.</summary>
internal sealed class RejectingConsumer(AttemptCounter attempts) : IConsumer<UnreadableCommand>
{
    public const string Queue = "feedbackloop-test-rejects";
    public const string Reason = "the command's payload cannot be read";

    public Task Consume(ConsumeContext<UnreadableCommand> context)
    {
        attempts.Add();
        throw new InvalidDataException(Reason);
    }
}
