import Foundation

/// What a FOCUS export says about commitment discounts (savings plans, reservations,
/// committed-use discounts) and invoices, day by day in the reporting time zone: read with the
/// billing, stored with the source's snapshot, and turned into a month's figures by
/// `CommitmentFigures` and `InvoiceStatement`. Amounts are exact micro-units by day ordinal
/// (`LocalDay.ordinal`), in the row's billing currency.
public struct CommitmentLedger: Sendable, Codable, Equatable {
    /// One commitment discount (`CommitmentDiscountId`) as its first row describes it.
    public struct Commitment: Sendable, Codable, Equatable {
        public var id: String
        public var name: String
        /// `CommitmentDiscountType`: the provider's own word (`Savings Plan`, `Reserved Instance`, …).
        public var type: String
        /// `CommitmentDiscountCategory`: `Spend` or `Usage`.
        public var category: String
        public var provider: String
        public var currency: Currency
        /// EffectiveCost of its rows with `CommitmentDiscountStatus` `Used` and `Unused`.
        public var used: [Int: Int64]
        public var unused: [Int: Int64]

        public init(id: String, name: String, type: String, category: String, provider: String, currency: Currency,
                    used: [Int: Int64] = [:], unused: [Int: Int64] = [:]) {
            self.id = id
            self.name = name
            self.type = type
            self.category = category
            self.provider = provider
            self.currency = currency
            self.used = used
            self.unused = unused
        }
    }

    /// One service's usage in one currency: the EffectiveCost of its `Usage` rows (the
    /// `Unused` rows of commitments left out, they are nobody's usage), and of those a
    /// commitment covered (`Used`).
    public struct Coverage: Sendable, Codable, Equatable {
        public var service: String
        public var currency: Currency
        public var usage: [Int: Int64]
        public var covered: [Int: Int64]

        public init(service: String, currency: Currency, usage: [Int: Int64] = [:], covered: [Int: Int64] = [:]) {
            self.service = service
            self.currency = currency
            self.usage = usage
            self.covered = covered
        }

        /// Adds a day's amount to the usage, or to what commitments covered.
        public mutating func add(_ micros: Int64, day: Int, covered isCovered: Bool) {
            if isCovered { covered[day, default: 0] &+= micros } else { usage[day, default: 0] &+= micros }
        }
    }

    /// BilledCost per `InvoiceId` and `InvoiceIssuerName`; rows without an invoice ID count
    /// under the empty ID, so that a month's total is the sum of every entry.
    public struct Invoice: Sendable, Codable, Equatable {
        public var id: String
        public var issuer: String
        public var currency: Currency
        public var billed: [Int: Int64]

        public init(id: String, issuer: String, currency: Currency, billed: [Int: Int64] = [:]) {
            self.id = id
            self.issuer = issuer
            self.currency = currency
            self.billed = billed
        }
    }

    public var commitments: [Commitment]
    public var coverage: [Coverage]
    public var invoices: [Invoice]

    public init(commitments: [Commitment] = [], coverage: [Coverage] = [], invoices: [Invoice] = []) {
        self.commitments = commitments
        self.coverage = coverage
        self.invoices = invoices
    }

    public var isEmpty: Bool { commitments.isEmpty && coverage.isEmpty && invoices.isEmpty }


    /// Whether `days` has any day from `first` through `last`.
    static func covers(_ days: [Int: Int64], _ first: LocalDay, _ last: LocalDay) -> Bool {
        days.keys.contains { (first.ordinal...last.ordinal).contains($0) }
    }

    /// The micro-units of `days` from `first` through `last`.
    static func sum(_ days: [Int: Int64], _ first: LocalDay, _ last: LocalDay) -> Int64 {
        let range = first.ordinal...last.ordinal
        return days.reduce(0) { range.contains($1.key) ? $0 &+ $1.value : $0 }
    }
}

extension CommitmentLedger.Commitment {
    /// The unused part as a monthly run rate, as the FOCUS sources' run rates are taken: the
    /// amount of its latest day with any row, that day's price for a month. nil when nothing
    /// was unused that day.
    public func unusedMonthly(hoursPerMonth: Decimal) -> Money? {
        guard let latest = Set(used.keys).union(unused.keys).max(), let micros = unused[latest], micros > 0 else { return nil }
        return Rate(Money(Micros.decimal(micros), currency), per: .daily).monthly(hoursPerMonth: hoursPerMonth)
    }
}

/// A month's commitment figures (docs/metrics.md):
/// - utilisation: the EffectiveCost of a commitment's `Used` rows over that of its `Used` and
///   `Unused` rows, so that a commitment half spent on nothing is 0.5 whatever its size;
/// - unused cost: the EffectiveCost of its `Unused` rows, rounded once to the cent;
/// - coverage: of a service's usage EffectiveCost, the share commitments covered.
/// Ratios come from the exact sums; a commitment or service with nothing in the month has none.
public struct CommitmentFigures: Sendable {
    public struct Line: Sendable {
        public var commitment: CommitmentLedger.Commitment
        public var used: Decimal
        public var unused: Decimal
        /// nil when the month has neither used nor unused amounts.
        public var utilization: Double?
    }

    public struct CoverageLine: Sendable {
        public var service: String
        public var currency: Currency
        public var ratio: Double
    }

    public private(set) var commitments: [Line] = []
    public private(set) var coverage: [CoverageLine] = []

    public init(_ ledger: CommitmentLedger, from first: LocalDay, through last: LocalDay, scale: Int = 2) {
        for commitment in ledger.commitments {
            let used = Micros.decimal(CommitmentLedger.sum(commitment.used, first, last))
            let unused = Micros.decimal(CommitmentLedger.sum(commitment.unused, first, last))
            guard CommitmentLedger.covers(commitment.used, first, last) || CommitmentLedger.covers(commitment.unused, first, last) else { continue }
            let whole = used + unused
            commitments.append(Line(commitment: commitment, used: used.rounded(scale: scale), unused: unused.rounded(scale: scale),
                                    utilization: whole == 0 ? nil : Self.ratio(used, whole)))
        }
        commitments.sort { ($0.commitment.id, $0.commitment.currency) < ($1.commitment.id, $1.commitment.currency) }
        for entry in ledger.coverage {
            let usage = Micros.decimal(CommitmentLedger.sum(entry.usage, first, last))
            guard usage != 0 else { continue }
            let covered = Micros.decimal(CommitmentLedger.sum(entry.covered, first, last))
            coverage.append(CoverageLine(service: entry.service, currency: entry.currency, ratio: Self.ratio(covered, usage)))
        }
        coverage.sort { ($0.service, $0.currency) < ($1.service, $1.currency) }
    }

    /// `part / whole` from exact decimals; a Double only at the end.
    static func ratio(_ part: Decimal, _ whole: Decimal) -> Double {
        NSDecimalNumber(decimal: part / whole).doubleValue
    }
}

/// A month's invoices as the billing rows name them: each invoice's BilledCost rounded once
/// to the cent, and per currency the month's billed total beside the sum of its invoices (rows
/// without an invoice ID make the difference).
public struct InvoiceStatement: Sendable {
    public struct Line: Sendable {
        public var id: String
        public var issuer: String
        public var currency: Currency
        public var amount: Decimal
    }

    public struct Total: Sendable {
        public var currency: Currency
        public var billed: Decimal
        public var invoiced: Decimal
    }

    public private(set) var lines: [Line] = []
    public private(set) var totals: [Total] = []

    public init(_ ledger: CommitmentLedger, from first: LocalDay, through last: LocalDay, scale: Int = 2) {
        var billed: [Currency: Int64] = [:], invoiced: [Currency: Decimal] = [:]
        for invoice in ledger.invoices {
            let micros = CommitmentLedger.sum(invoice.billed, first, last)
            guard CommitmentLedger.covers(invoice.billed, first, last) else { continue }
            billed[invoice.currency, default: 0] &+= micros
            guard !invoice.id.isEmpty else { continue }
            let amount = Micros.decimal(micros).rounded(scale: scale)
            lines.append(Line(id: invoice.id, issuer: invoice.issuer, currency: invoice.currency, amount: amount))
            invoiced[invoice.currency, default: 0] += amount
        }
        lines.sort { ($0.id, $0.issuer, $0.currency) < ($1.id, $1.issuer, $1.currency) }
        totals = billed.keys.sorted().map { currency in
            Total(currency: currency, billed: Micros.decimal(billed[currency] ?? 0).rounded(scale: scale), invoiced: invoiced[currency] ?? 0)
        }
    }
}
