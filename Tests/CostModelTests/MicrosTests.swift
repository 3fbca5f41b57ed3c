import CostModel
import Foundation
import Testing

@Suite("Micro-units")
struct MicrosTests {
    func parse(_ text: String) -> Int64? { Micros.parse(text) }

    @Test("plain decimals parse exactly into millionths")
    func exactParse() {
        #expect(parse("1086.50") == 1_086_500_000)
        #expect(parse("-12.5") == -12_500_000)
        #expect(parse("+3") == 3_000_000)
        #expect(parse("0.000001") == 1)
        #expect(parse(" 7.25 ") == 7_250_000)
    }

    @Test("digits past the sixth decimal round half to even, once")
    func rounding() {
        #expect(parse("0.0000005") == 0)         // half, to the even 0
        #expect(parse("0.0000015") == 2)         // half, to the even 2
        #expect(parse("0.00000050001") == 1)     // above half
        #expect(parse("-1.2345675") == -1_234_568)
        #expect(parse("2.1234564999") == 2_123_456)
    }

    @Test("exponents, separators, garbage, empty text and overflow are refused")
    func refused() {
        for text in ["1e5", "1,000.00", "12abc", "", " ", ".", "-", "1.2.3", "NaN", "9223372036854.775808", "99999999999999999999"] {
            #expect(parse(text) == nil, "\(text)")
        }
        #expect(parse("9223372036854.775807") == Int64.max)
    }

    @Test("a Decimal is exact in micro-units when, and only when, the micro-units times 10⁻⁶ give it back")
    func exactAgreesWithArithmetic() {
        // Decimals made by arithmetic (divisions, products, sums), whose words differ from
        // parsed ones; the oracle is Decimal's own arithmetic on the answer.
        var generator = SystemRandomNumberGenerator()
        var amounts: [Decimal] = [Decimal(string: "123456789.123456")!, Decimal(string: "-0.5")!, Decimal(sign: .plus, exponent: 10, significand: 9),
                                  Decimal(sign: .minus, exponent: -12, significand: 5_000_000), Decimal(string: "9007199254.740991")!,
                                  Decimal(string: "9007199254.740992")!, Decimal(string: "12345678901234567890123")!]
        for _ in 0..<2000 {
            let whole = Decimal(Int64.random(in: -1_000_000_000_000...1_000_000_000_000, using: &generator))
            let divisor = Decimal([1, 2, 3, 7, 10, 24, 720, 1_000_000, 10_000_000].randomElement(using: &generator)!)
            amounts.append(whole / divisor)
            amounts.append(whole / 1_000_000 * Decimal(Int.random(in: 1...5, using: &generator)))
        }
        for amount in amounts {
            if let micros = Micros.exact(amount) {
                #expect(Decimal(micros) / 1_000_000 == amount, "\(amount) read as \(micros) micro-units")
            } else {
                // Not exact: no whole number of micro-units is the amount, or it needs 2⁵³ and more.
                let scaled = amount * 1_000_000
                #expect(scaled != scaled.rounded(scale: 0) || scaled.magnitude >= 9_007_199_254_740_992 || amount.exponent < -60,
                        "\(amount) refused")
            }
        }
    }

    @Test("whole micro-units read back from a Decimal exactly, others not at all")
    func exactFromDecimal() {
        #expect(Micros.exact(Decimal(string: "1086.50")!) == 1_086_500_000)
        #expect(Micros.exact(Decimal(string: "-0.000001")!) == -1)
        #expect(Micros.exact(Decimal(string: "720")!) == 720_000_000)
        #expect(Micros.exact(Decimal(string: "0.0000001")!) == nil)
        #expect(Micros.exact(Decimal(100) / Decimal(3)) == nil)
        #expect(Micros.plainString(1_086_500_000) == "1086.5")
        #expect(Micros.plainString(-5) == "-0.000005")
        #expect(Micros.plainString(0) == "0")
        #expect(Micros.plainString(1_000_000) == "1")
        #expect(Micros.plainString(-10_000_000) == "-10")
        #expect(Micros.plainString(100_010) == "0.10001")
        #expect(Micros.plainString(Int64.max) == "9223372036854.775807")
        #expect(Micros.plainString(Int64.min) == "-9223372036854.775808")
    }

    @Test("rates over whole hours give what Decimal division gives, with and without the integer path")
    func rateOver() {
        // 1086.50 a day over a 720-hour month is 32595.00 (by hand: 1086.5 × 30).
        #expect(Rate(Money(Decimal(string: "1086.50")!, .rub), per: .daily).monthly(hoursPerMonth: 720).amount == 32595)
        // 100 a month per hour is 100/720: not whole micro-units, so Decimal divides.
        let perHour = Rate(Money(100, .rub), per: .monthly).perHour.amount
        #expect(perHour == Decimal(100) / Decimal(720))
        // 2.64 an hour over 730 hours: 1927.20.
        #expect(Rate(Money(Decimal(string: "2.64")!, .rub), per: .hourly).monthly(hoursPerMonth: 730).amount == Decimal(string: "1927.2")!)
        // Negative amounts (credits) too: −0.24 a day is −0.01 an hour.
        #expect(Rate(Money(Decimal(string: "-0.24")!, .rub), per: .daily).perHour.amount == Decimal(string: "-0.01")!)
    }

    @Test("LocalDay ordinals: 1970-01-01 is 0, leap days count, a Thursday")
    func ordinals() {
        #expect(LocalDay(year: 1970, month: 1, day: 1).ordinal == 0)
        #expect(LocalDay(year: 2000, month: 3, day: 1).ordinal == 11_017)  // date -d 2000-03-01 +%s / 86400
        #expect(LocalDay(ordinal: 20_779) == LocalDay(year: 2026, month: 11, day: 22))
        #expect(LocalDay(year: 2024, month: 2, day: 28).adding(days: 1) == LocalDay(year: 2024, month: 2, day: 29))
        #expect(LocalDay(year: 1970, month: 1, day: 1).isoWeekday == 4)
    }
}
