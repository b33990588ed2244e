//! Terminal tables aligned for CJK text (display width, not byte or char count).
