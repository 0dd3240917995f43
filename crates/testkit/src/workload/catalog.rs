//! The workload's products and stock: register, reprice, discontinue, receive, adjust.

use super::Generator;
use tally_domain::catalog::ProductStatus;
use tally_domain::inventory::AdjustmentReason;
use tally_domain::{Currency, InventoryCommand, LocationId, Money, ProductCommand, Quantity, Sku};

const LOCATIONS: [&str; 3] = ["main", "north", "south"];

impl Generator {
    pub(super) fn register(&mut self) {
        if self.products.len() >= self.options.max_products {
            return self.receive();
        }
        let n = self.products.len();
        let (sku, name) = match self.options.shard {
            Some(shard) => (format!("S{shard:02}-SKU-{n:03}"), format!("Product {n} of shard {shard}")),
            None => (format!("SKU-{n:03}"), format!("Product {n}")),
        };
        let sku = Sku::parse(&sku).unwrap();
        let currency = Currency::parse(if n % 3 == 2 { "USD" } else { "EUR" }).unwrap();
        let price = Money::new(i64::try_from(self.rng.range(100, 5_000)).unwrap(), currency);
        if self.product(&sku, ProductCommand::RegisterProduct { sku: sku.clone(), name, price }) {
            self.count("register");
        }
    }

    pub(super) fn active_skus(&self) -> Vec<Sku> {
        self.products
            .iter()
            .filter(|(_, (p, _))| p.details().is_some_and(|d| d.status() == ProductStatus::Active))
            .map(|(sku, _)| sku.clone())
            .collect()
    }

    pub(super) fn reprice(&mut self) {
        let Some(sku) = self.rng.pick(&self.active_skus()).cloned() else { return };
        let currency = self.products[&sku].0.details().unwrap().price().currency();
        let price = Money::new(i64::try_from(self.rng.range(100, 5_000)).unwrap(), currency);
        if self.product(&sku, ProductCommand::RepriceProduct { price }) {
            self.count("reprice");
        }
    }

    pub(super) fn discontinue(&mut self) {
        if self.active_skus().len() < 6 {
            return;
        }
        let Some(sku) = self.rng.pick(&self.active_skus()).cloned() else { return };
        if self.product(&sku, ProductCommand::DiscontinueProduct) {
            self.count("discontinue");
        }
    }

    fn location(&mut self) -> LocationId {
        LocationId::parse(self.rng.pick(&LOCATIONS).unwrap()).unwrap()
    }

    pub(super) fn receive(&mut self) {
        let skus: Vec<Sku> = self.products.keys().cloned().collect();
        let Some(sku) = self.rng.pick(&skus).cloned() else { return };
        let location = self.location();
        let quantity = Quantity::new(u32::try_from(self.rng.range(1, 40)).unwrap()).unwrap();
        let reference = format!("PO-{}", self.rng.range(1000, 9999));
        if self.inventory(&sku, InventoryCommand::ReceiveStock { location, quantity, reference }).is_ok() {
            self.count("receive");
        }
    }

    pub(super) fn adjust(&mut self) {
        let skus: Vec<Sku> = self.inventories.keys().cloned().collect();
        let Some(sku) = self.rng.pick(&skus).cloned() else { return };
        let location = self.location();
        let magnitude = i64::try_from(self.rng.range(1, 5)).unwrap();
        let (delta, reason) = match self.rng.range(0, 3) {
            0 => (-magnitude, AdjustmentReason::Damaged),
            1 => (-magnitude, AdjustmentReason::Lost),
            2 => (magnitude, AdjustmentReason::Found),
            _ => (if self.rng.chance(50) { magnitude } else { -magnitude }, AdjustmentReason::CountCorrection),
        };
        if self.inventory(&sku, InventoryCommand::AdjustStock { location, delta, reason }).is_ok() {
            self.count("adjust");
        }
    }
}
