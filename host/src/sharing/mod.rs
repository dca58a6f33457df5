//! Sharing success plans: shares, recipients, secret links, one-time codes, what each recipient
//! may see, revoking, and the tenant's sharing settings.

mod otp;

pub use otp::OtpError;
