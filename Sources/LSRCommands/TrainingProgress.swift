#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Synchronization
import LSRTrain

/// Training progress on stderr: on a terminal one live line, rewritten in place (step/total,
/// epoch, loss, learning rate, examples/s, ETA), with evaluations printed above it; otherwise
/// (a log file, CI) a plain line every 10 updates or 10 seconds, and every evaluation.
final class TrainingProgress {
    let total: Int
    let epochs: Int?
    let live = isatty(STDERR_FILENO) == 1
    private let started = Date()
    private let firstStep: Int
    private var examples = 0
    private var lastPrint = Date.distantPast
    private var lineShown = false

    init(total: Int, epochs: Int?, alreadyDone: Int) {
        self.total = total
        self.epochs = epochs
        firstStep = alreadyDone
    }

    func show(_ event: Trainer.Event) {
        switch event {
        case .step(let step, _, let epoch, let loss, let lr, let count):
            examples += count
            let now = Date()
            let seconds = now.timeIntervalSince(started)
            let done = step - firstStep
            let eta = done > 0 ? seconds / Double(done) * Double(total - step) : 0
            let text = String(format: "step %d/%d  epoch %@  loss %.4f  lr %.2e  %.1f ex/s  ETA %@", step, total,
                epochs.map { "\(epoch)/\($0)" } ?? "\(epoch)", loss, lr, Double(examples) / max(seconds, 1e-9), Self.clock(eta))
            if live {
                guard now.timeIntervalSince(lastPrint) >= 0.1 || step == total else { return }
                write("\r\u{1B}[K" + text)
                lineShown = true
            } else {
                guard done == 1 || step == total || step % 10 == 0 || now.timeIntervalSince(lastPrint) >= 10 else { return }
                write(text + "\n")
            }
            lastPrint = now
        case .evaluated(let entry, let best):
            var text = String(format: "eval  step %d  epoch %.2f", entry.step, entry.epoch)
            if let loss = entry.evalLoss { text += String(format: "  loss %.4f", loss) }
            text += entry.evalMetrics.map { String(format: "  %@ %.4f", $0.name, $0.value) }.joined()
            if entry.evalLoss == nil, let loss = entry.trainLoss { text += String(format: "  train loss %.4f", loss) }
            if best { text += "  (best)" }
            write((lineShown ? "\r\u{1B}[K" : "") + text + "\n")
            lineShown = false
        case .saved:
            break
        }
    }

    /// Ends the live line.
    func finish() {
        if lineShown { write("\n") }
        lineShown = false
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

    /// 75 → "1:15", 3700 → "1:01:40".
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Ctrl-C (SIGINT), SIGTERM or SIGUSR1 during training: the first asks the trainer to checkpoint
/// after the current update and stop; the handler then restores the default, so a second one
/// kills at once. SIGUSR1 is for MPI runs: Open MPI's mpirun forwards it to every rank
/// (mpirun(1), "Signal Propagation"), whereas its SIGINT/SIGTERM kill the job after a second.
struct InterruptFlag: Sendable {
    static func install() -> InterruptFlag {
        signal(SIGINT, interruptHandler)
        signal(SIGTERM, interruptHandler)
        signal(SIGUSR1, interruptHandler)
        // A parent may have started us with these blocked (spawned with its own mask): a blocked
        // signal would wait forever. Unblocked on this thread, which then receives them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGUSR1)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        return InterruptFlag()
    }
    var isSet: Bool { interruptRequested.load(ordering: .relaxed) != 0 }
}

/// Lock-free, so storing from a signal handler is safe.
private let interruptRequested = Atomic<Int32>(0)

private func interruptHandler(_ signal: Int32) {
    interruptRequested.store(1, ordering: .relaxed)
    Glibc.signal(signal, SIG_DFL)
}
